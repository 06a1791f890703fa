"""Exceptions raised by :mod:`growth_standards`.

::

    GrowthStandardsError                 base of everything raised here
    ├── InvalidFrameError (ValueError)   the input frame is structurally unusable
    │   └── MissingColumnsError          a required column is absent
    └── InvalidArgumentError (ValueError) a bad argument to an array function
                                          (unknown indicator or sex, shapes that differ)

Invalid *values* inside an otherwise usable frame never raise: they score as missing (NaN),
and :func:`growth_standards.row_problems` says, per row, what was wrong.
"""

from __future__ import annotations

from collections.abc import Sequence


class GrowthStandardsError(Exception):
    """Base class of every exception raised by :mod:`growth_standards`."""


class InvalidFrameError(GrowthStandardsError, ValueError):
    """The measurements frame cannot be scored at all (not a DataFrame, bad structure)."""


class MissingColumnsError(InvalidFrameError):
    """Required columns are missing from the measurements frame."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns: tuple[str, ...] = tuple(columns)
        super().__init__(f"missing required column(s): {', '.join(self.columns)}")


class InvalidArgumentError(GrowthStandardsError, ValueError):
    """An argument of an array-level function is not valid."""
