"""Sub-commands of the ``healthbridge`` command line (see :mod:`healthbridge.cli`)."""
