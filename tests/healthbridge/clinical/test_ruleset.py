from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from healthbridge.clinical.errors import RuleSetKeyError, RuleSetNotFoundError, RuleTableError
from healthbridge.clinical.ruleset import (
    RuleSet,
    default_rules_dir,
    list_rulesets,
    load_ruleset,
    load_ruleset_key,
)
from healthbridge.clinical.vocab import AlertKind, Evidence
from healthbridge.config import DEFAULT_RULESET_KEY, Settings


def test_every_shipped_ruleset_loads_and_validates() -> None:
    refs = list_rulesets()
    assert len(refs) >= 2
    for ref in refs:
        rs = load_ruleset(ref.id, ref.version, ref.region)
        for meta in rs.tables():
            assert meta.sources, meta.id
            assert all(s.title for s in meta.sources)
            assert meta.region == "CN"
        for conv in rs.nutrition.conventions:
            assert {r.kind for r in conv.rules} >= {
                AlertKind.UNDERWEIGHT,
                AlertKind.OBESITY,
                AlertKind.MICROCEPHALY,
            }
        assert {k.kind for k in rs.alerts.kinds} == set(AlertKind)


def test_head_circumference_cutoffs_keep_their_uncertain_tag(rs: RuleSet) -> None:
    hc = [r for r in rs.nutrition_convention.rules if r.column == "zhc"]
    assert hc
    assert all(r.evidence is Evidence.UNCERTAIN for r in hc)


def test_editions_differ_in_dtap(rs: RuleSet, rs2021: RuleSet) -> None:
    def dtp(r: RuleSet) -> list[tuple[str, str]]:
        return [(str(d.age), d.accepts[0]) for d in r.vaccination.doses if d.series == "DTP"]

    assert dtp(rs) == [
        ("2m", "DTaP"),
        ("4m", "DTaP"),
        ("6m", "DTaP"),
        ("18m", "DTaP"),
        ("6y", "DTaP"),
    ]
    assert dtp(rs2021) == [
        ("3m", "DTaP"),
        ("4m", "DTaP"),
        ("5m", "DTaP"),
        ("18m", "DTaP"),
        ("6y", "DT"),
    ]
    assert rs.vaccination.meta.version == "2026.2"
    assert rs2021.nutrition_convention.id == "who-2006"


def test_convention_override(rs: RuleSet) -> None:
    who = load_ruleset(rs.id, rs.version, nutrition_convention="who-2006")
    assert who.nutrition_convention.id == "who-2006"
    with pytest.raises(RuleTableError):
        load_ruleset(rs.id, rs.version, nutrition_convention="nope")


@pytest.mark.parametrize(
    ("rid", "version", "region"),
    [
        ("x", "2026.1", "CN"),
        ("cn-child-health", "1999", "CN"),
        ("cn-child-health", "2026.1", "china"),
    ],
)
def test_unknown_ruleset(rid: str, version: str, region: str) -> None:
    with pytest.raises(RuleSetNotFoundError):
        load_ruleset(rid, version, region)


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    src = Path(str(default_rules_dir()))
    dst = tmp_path / "rules"
    shutil.copytree(src, dst)
    return dst


def test_province_overlay_is_applied(rules_copy: Path) -> None:
    (rules_copy / "CN-44").mkdir()
    (rules_copy / "CN-44" / "centre-frequency.toml").write_text(
        """
[meta]
id = "centre-frequency"
version = "2026.1"
region = "CN-44"
effective_from = 2026-01-01
evidence = "?"
source = [{ title = "Test overlay: monthly weighing in centres", number = "", date = "2026" }]

[overlay]
target = "velocity"

[set.measurement_gap]
centre_max_days = 31
""",
        encoding="utf-8",
    )
    national = load_ruleset("cn-child-health", "2026.1", "CN", rules_dir=rules_copy)
    province = load_ruleset("cn-child-health", "2026.1", "CN-44", rules_dir=rules_copy)
    assert national.velocity.measurement_gap.centre_max_days == 92
    assert province.velocity.measurement_gap.centre_max_days == 31
    assert (
        province.velocity.measurement_gap.grace_days == national.velocity.measurement_gap.grace_days
    )
    assert [o.meta.id for o in province.overlays] == ["centre-frequency"]
    assert province.key == "cn-child-health@2026.1/CN-44"
    # a province without overlays uses the national tables unchanged
    assert load_ruleset("cn-child-health", "2026.1", "CN-11", rules_dir=rules_copy).overlays == ()


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("file", "old", "new"),
    [
        ("CN/nutrition.toml", 'kind = "underweight"', 'kind = "thin"'),
        ("CN/nutrition.toml", 'column = "zwei"', 'column = "zfoo"'),
        ("CN/nutrition.toml", "upper = -2.0", "upper = -4.0"),
        ("CN/velocity.toml", 'to_age = "1y"', 'to_age = "1 year"'),
        ("CN/nip-2026.toml", 'series = "HepB"\nnumber = 2', 'series = "HepB"\nnumber = 4'),
        ("CN/nip-2026.toml", 'accepts = ["MMR"]', 'accepts = ["MMRV"]'),
        ("CN/nip-2026.toml", 'default_option = "JE-L"', 'default_option = "JE-X"'),
        ("CN/anaemia.toml", "below = 60.0", "below = 95.0"),
        ("CN/alert-kinds.toml", 'code = "anaemia"', 'code = "anemia"'),
        ("CN/checkups.toml", 'visits = ["18m", "24m"]', 'visits = ["18m", "25m"]'),
        ("CN/daily-check.toml", "threshold_c = 37.3", 'threshold_c = "37.3"'),
        ("CN/warning-signs.toml", 'id = "6m-1"', 'id = "3m-1"'),
        ("CN/checkups.toml", 'id = "checkups"', 'id = "checkup"'),
        ("CN/nutrition.toml", "[meta]", "[metadata]"),
        ("CN/nip-2026.toml", 'evidence = "S"\n', 'evidence = "X"\n'),
        ("CN/growth-interpretation.toml", "below = -3.0", "above = -3.0"),
        ("CN/growth-interpretation.toml", "below = -3.0", "below = -1.0"),
        ("CN/growth-interpretation.toml", 'code = "LL"', 'code = "LL"\nabove = 4.0'),
        ("CN/growth-interpretation.toml", "above = 2.0", "above = -2.5"),
    ],
)
def test_bad_tables_raise_typed_errors(rules_copy: Path, file: str, old: str, new: str) -> None:
    _edit(rules_copy / file, old, new)
    with pytest.raises(RuleTableError):
        load_ruleset("cn-child-health", "2026.1", rules_dir=rules_copy)


def test_invalid_toml_raises(rules_copy: Path) -> None:
    (rules_copy / "CN" / "anaemia.toml").write_text("[meta\n", encoding="utf-8")
    with pytest.raises(RuleTableError, match="invalid TOML"):
        load_ruleset("cn-child-health", "2026.1", rules_dir=rules_copy)


def test_every_shipped_table_file_is_used() -> None:
    folder = Path(str(default_rules_dir())) / "CN"
    used = set()
    for ref in list_rulesets():
        rs = load_ruleset(ref.id, ref.version, ref.region)
        used |= {m.id for m in rs.tables()}
    assert {f.stem for f in folder.glob("*.toml")} == used


def test_ruleset_key_names_the_deployments_rule_set() -> None:
    older = load_ruleset_key("cn-child-health@2021.1")  # region defaults to CN
    assert (older.version, older.region) == ("2021.1", "CN")
    # the pipeline off ("") still leaves the pages, reports and operations a rule set
    assert Settings(clinical_ruleset="").ruleset_key == DEFAULT_RULESET_KEY
    assert Settings(clinical_ruleset="cn-child-health@2021.1/CN").ruleset_key.endswith("2021.1/CN")
    for bad in ("cn-child-health", "@2026.1/CN", "cn-child-health@"):
        with pytest.raises(RuleSetKeyError):
            load_ruleset_key(bad)
