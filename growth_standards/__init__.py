"""WHO growth standards: z-scores and percentiles exactly as WHO's own software computes them.

``score(frame)`` scores a DataFrame of measurements (WHO Anthro's column names) on the WHO
Child Growth Standards 2006 (to 60 months) and the WHO Growth Reference 2007 (60 months to
19 years), following WHO's R packages ``anthro`` and ``anthroplus`` rule for rule;
``centile_curves`` / ``z_curves`` give the reference lines as data for charts; ``zscore`` and
``value_at_z`` work on arrays. See ``docs/growth_standards.md``.
"""

from growth_standards._inputs import row_problems
from growth_standards.curves import centile_curves, value_at_z, z_curves, zscore
from growth_standards.errors import (
    GrowthStandardsError,
    InvalidArgumentError,
    InvalidFrameError,
    MissingColumnsError,
)
from growth_standards.indicators import Indicator, IndicatorSpec, Reference, Sex, spec
from growth_standards.scoring import round_z, score

__all__ = [
    "GrowthStandardsError",
    "Indicator",
    "IndicatorSpec",
    "InvalidArgumentError",
    "InvalidFrameError",
    "MissingColumnsError",
    "Reference",
    "Sex",
    "centile_curves",
    "round_z",
    "row_problems",
    "score",
    "spec",
    "value_at_z",
    "z_curves",
    "zscore",
]
