"""The doses missing at the admission check (入托查验) for a whole centre at once.

:func:`~healthbridge.clinical.admission.admission_check` takes one child's vaccination plan
(:func:`~healthbridge.clinical.vaccination.vaccination_plan`, ~1.5 ms a child): the centre's
admission list needs every child's check to put those needing action first, ~2 s for a centre
of 1,200 children. Here the missing dose ids of every child come from the vectorised
vaccination states of the district evaluation
(:func:`~healthbridge.clinical.schedule_vaccination.vaccination_states`, proven equal to the
per-child plans by ``tests/healthbridge/clinical/test_schedule_batch.py``), as
:func:`~healthbridge.clinical.schedule_care.admission_frame` reads them; the list page then
builds each child's :class:`~healthbridge.clinical.admission.AdmissionCheck` with
:func:`~healthbridge.clinical.admission.admission_check_of` and computes full plans (the doses
not counted, with their reason) only for the rows it shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

from healthbridge.clinical.schedule_arrays import STATUS_CODE, children_arrays
from healthbridge.clinical.schedule_care import incomplete_statuses
from healthbridge.clinical.schedule_vaccination import (
    child_fact_arrays,
    segments,
    vaccination_states,
)
from healthbridge.clinical.tables_vaccination import VaccinationTable
from healthbridge.clinical.vaccination import GivenDose

#: one child: (id, birth date, sex, mother's HBsAg status, birth weight in g)
ChildRow = tuple[str, date, str, str | None, float | None]


def missing_doses(
    children: Sequence[ChildRow],
    given: dict[str, list[GivenDose]],
    table: VaccinationTable,
    as_of: date,
) -> dict[str, tuple[str, ...]] | None:
    """Each child's missing dose ids in plan order (``admission_check``'s ``missing_doses``:
    the doses whose status is one of the table's ``incomplete_statuses``), or None when a
    child id repeats (the caller then uses the per-child plans)."""
    frame = pd.DataFrame(
        children, columns=["child_id", "birth_date", "sex", "maternal_hbsag", "birth_weight_g"]
    )
    ch = children_arrays(frame)
    if ch is None:
        return None
    doses = pd.DataFrame(
        [(cid, d.immunization_id, d.vaccine, d.on) for cid, ds in given.items() for d in ds],
        columns=["child_id", "immunization_id", "vaccine", "date"],
    )
    doses["date"] = pd.to_datetime(doses["date"])
    no_tests = pd.DataFrame(columns=["child_id", "observation_id", "date", "negative"])
    incomplete = incomplete_statuses(table)
    facts = child_fact_arrays(ch, frame, no_tests, table, as_of)
    states = vaccination_states(ch, doses, table, as_of, incomplete, facts)
    codes = np.array(sorted(STATUS_CODE[s] for s in incomplete), dtype=np.int8)
    mask = np.isin(states.status, codes)
    m_child, m_rule = states.child[mask], states.rule[mask]
    subjects, bounds = segments(m_child)
    dose_ids = [r.dose_id for r in table.doses]
    names = [dose_ids[i] for i in m_rule.tolist()]
    out: dict[str, tuple[str, ...]] = dict.fromkeys(ch.ids, ())
    for at, c in enumerate(subjects.tolist()):
        out[ch.ids[c]] = tuple(names[bounds[at] : bounds[at + 1]])
    return out
