"""District-level services on top of the store: gathering whole-district data for the pure
reports (:mod:`healthbridge.reports`), measurement-session import, WHO Anthro export and FHIR
Bulk Data export. May import the store and FHIR layers; the pure packages stay pure."""
