"""Lazy, cached access to the WHO LMS tables shipped in ``growth_standards/data``.

Nothing is read at import time: each table is parsed on first use and kept (``functools.cache``).
Where the tables come from and how they were converted is in ``data/SOURCES.md``.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from importlib import resources

import numpy as np
import numpy.typing as npt

from growth_standards.errors import InvalidArgumentError

FloatArray = npt.NDArray[np.float64]

#: Every table shipped in ``data/`` (file name without ``.tsv``).
TABLE_NAMES: tuple[str, ...] = (
    "who2006_wfa",
    "who2006_lhfa",
    "who2006_wfl",
    "who2006_wfh",
    "who2006_bfa",
    "who2006_hcfa",
    "who2006_acfa",
    "who2006_tsfa",
    "who2006_ssfa",
    "who2007_hfa",
    "who2007_wfa",
    "who2007_bfa",
)


@dataclass(frozen=True, slots=True, eq=False)
class LMSTable:
    """One WHO LMS table on a regular grid, both sexes.

    ``l``, ``m`` and ``s`` have shape ``(2, len(x))``; row 0 is male, row 1 female. The grid is
    regular (``x = x0 + step * i``): days or months for age tables, 0.1 cm for
    weight-for-length/height.
    """

    name: str
    x_name: str
    x: FloatArray
    l: FloatArray
    m: FloatArray
    s: FloatArray
    flat: tuple[FloatArray, FloatArray, FloatArray]
    """``l``, ``m``, ``s`` flattened (male grid, then female) with one NaN appended: the
    position :attr:`missing` is where rows without a reference look up."""

    @property
    def x0(self) -> float:
        return float(self.x[0])

    @property
    def step(self) -> float:
        return float(self.x[1] - self.x[0])

    @property
    def missing(self) -> int:
        """Index of the NaN entry in :attr:`flat`."""
        return 2 * len(self.x)

    @property
    def l_is_one(self) -> bool:
        """Whether L = 1 throughout (a normal distribution: z is linear in the value)."""
        return bool(np.all(self.l == 1.0))


def read_text(name: str) -> str:
    """The raw text of ``data/<name>`` (``SOURCES.md`` or a ``.tsv`` table)."""
    return resources.files("growth_standards").joinpath("data", name).read_text("utf-8")


@functools.cache
def load(name: str) -> LMSTable:
    """Load table ``name`` (one of :data:`TABLE_NAMES`), parsed once per process."""
    if name not in TABLE_NAMES:
        raise InvalidArgumentError(f"unknown WHO table {name!r}")
    text = read_text(f"{name}.tsv")
    header = text.split("\n", 1)[0].split("\t")
    values = np.loadtxt(io.StringIO(text), delimiter="\t", skiprows=1, dtype=np.float64)
    sex = values[:, 0]
    male, female = values[sex == 1], values[sex == 2]
    if len(male) != len(female) or not np.array_equal(male[:, 1], female[:, 1]):
        raise ValueError(f"{name}: the two sexes have different grids")
    x = male[:, 1].copy()
    steps = np.diff(x)
    if not np.allclose(steps, steps[0], rtol=0, atol=1e-9):
        raise ValueError(f"{name}: x is not a regular grid")
    stack = np.stack([male, female])  # (2, n, 5)
    l, m, s = (np.ascontiguousarray(stack[:, :, i]) for i in (2, 3, 4))
    flat = tuple(np.append(a.ravel(), np.nan) for a in (l, m, s))
    return LMSTable(name=name, x_name=header[1], x=x, l=l, m=m, s=s, flat=flat)  # type: ignore[arg-type]
