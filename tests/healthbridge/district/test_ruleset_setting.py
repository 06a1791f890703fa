"""The district coverage figures count doses by the deployment's rule set
(``Settings.clinical_ruleset``): the DTaP doses are due at 3, 4 and 5 months under the 2021 NIP
edition and at 2, 4 and 6 months under the 2026 edition (``clinical/rules/CN/nip-*.toml``), so
the children counted as due for them differ. The reports API and the district page both serve
those figures (:mod:`healthbridge.district.figures`)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from healthbridge.clinical.ruleset import load_ruleset_key
from healthbridge.district.area_population import population_of
from healthbridge.district.areas import read_tree
from healthbridge.district.gather import gather
from healthbridge.district.reports import coverage_report, records
from healthbridge.district.screening import screening_frames
from tests.healthbridge.district.conftest import AS_OF

EDITION_2021 = "cn-child-health@2021.1/CN"
EDITION_2026 = "cn-child-health@2026.1/CN"


def test_coverage_uses_the_configured_rule_set(make_client: Callable[..., TestClient]) -> None:
    client = make_client("district-official", demo=True, clinical_ruleset=EDITION_2021)
    repo = client.app.state.repository  # type: ignore[attr-defined]
    frames = gather(repo)

    def expected(key: str) -> list[dict[str, object]]:
        rules = load_ruleset_key(key)
        return records(
            coverage_report(
                frames,
                as_of=AS_OF,
                ruleset=rules,
                screenings=screening_frames(repo, rules),
                # the demo province's population (no DISTRICT_POPULATION setting)
                population=population_of(read_tree(repo), None),
            )
        )

    # the two editions give different figures for this district (else the test proves nothing)
    assert expected(EDITION_2021) != expected(EDITION_2026)
    got = client.get(f"/reports/coverage?as_of={AS_OF}")
    assert got.status_code == 200, got.text
    assert got.json()["rows"] == expected(EDITION_2021)
