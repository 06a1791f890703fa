"""HealthBridge clinical layer: pure early-intervention rules over versioned rule tables.

No web, database or FHIR-model imports here (an import-linter contract enforces it); the FHIR
pipeline maps inputs to the records/frames below and findings to Flag + Task writes.

- :mod:`.ruleset` — ``load_ruleset(id, version, region)``: typed, validated rule tables
  (``rules/``), province overlays
- :mod:`.nutrition`, :mod:`.velocity` — z-score status, faltering/flat/rapid gain, gaps
- :mod:`.checkups`, :mod:`.vaccination`, :mod:`.admission` — schedules, catch-up, the
  admission check (入托查验)
- :mod:`.daily_check`, :mod:`.anaemia`, :mod:`.screening` — 晨午检, Hb, warning signs
- :mod:`.alerts` — ``Finding`` and ``reconcile`` (one open alert per subject and kind)
- :mod:`.records` — ``ChildRecord`` (incremental input), ``DistrictData`` (batch frames)
- :mod:`.evaluate` — ``evaluate_child`` / ``evaluate_centre`` (incremental) and
  ``evaluate_district`` (batch, DataFrames; schemas in :mod:`.frames`)
- :mod:`.synthetic` — seeded synthetic district for tests and ``bench/evaluate.py``
"""
