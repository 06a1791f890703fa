"""Growth charts (matplotlib, Agg) with bilingual labels; reference curves come from
:mod:`growth_standards`, the child's points from the record."""
