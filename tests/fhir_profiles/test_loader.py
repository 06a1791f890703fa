from __future__ import annotations

import json

import pytest

from fhir_profiles import loader

BASE = loader.CANONICAL_BASE


def test_index_lists_every_file_once_with_one_version() -> None:
    entries = loader.index()
    assert len({e.url for e in entries}) == len(entries)
    assert {e.version for e in entries} == {loader.VERSION}
    for e in entries:
        assert e.url == f"{BASE}/{e.resource_type}/{e.id}"
        assert loader.resource_by_url(e.url)["id"] == e.id


def test_every_profile_is_r4_with_a_snapshot_and_a_page() -> None:
    from importlib import resources

    pages = resources.files("fhir_profiles").joinpath("pages")
    for url in loader.urls("StructureDefinition"):
        sd = loader.structure_definition(url)
        assert sd["fhirVersion"] == "4.0.1"
        assert sd["derivation"] == "constraint"
        ids = [e["id"] for e in sd["snapshot"]["element"]]
        assert len(ids) == len(set(ids))
        assert {e["id"] for e in sd["differential"]["element"]} <= set(ids)
        if sd["kind"] == "resource":
            assert pages.joinpath(f"{sd['id']}.md").is_file()


def test_version_suffix_and_unknown_urls() -> None:
    url = f"{BASE}/StructureDefinition/hb-child"
    assert loader.resource_by_url(f"{url}|0.1.0")["id"] == "hb-child"
    with pytest.raises(loader.UnknownCanonicalError):
        loader.resource_by_url(f"{url}|9.9.9")
    with pytest.raises(loader.UnknownCanonicalError):
        loader.resource_by_url(f"{BASE}/StructureDefinition/nope")
    with pytest.raises(loader.UnknownCanonicalError):
        loader.code_system(url)  # right URL, wrong resource type
    assert not loader.is_known(f"{BASE}/ValueSet/nope")


def test_returned_resources_are_copies() -> None:
    url = f"{BASE}/CodeSystem/alert-kind"
    first = loader.code_system(url)
    first["concept"].clear()
    assert loader.code_system(url)["concept"]


def test_every_profile_has_valid_and_invalid_examples() -> None:
    valid = set(loader.example_names("valid"))
    invalid = loader.example_names("invalid")
    for url in loader.profile_urls():
        pid = url.rsplit("/", 1)[-1]
        assert f"{pid}.json" in valid
        assert any(n.startswith(f"{pid}--") for n in invalid)
        assert loader.example("valid", f"{pid}.json")["meta"]["profile"] == [url]
    for name in invalid:
        expectation = loader.invalid_expectation(name)
        assert expectation.issues
        assert loader.example("invalid", name)["meta"]["profile"] == [expectation.profile]


def test_files_are_canonical_json() -> None:
    from importlib import resources

    root = resources.files("fhir_profiles")
    for e in loader.index():
        text = root.joinpath(e.file).read_text(encoding="utf-8")
        assert text == json.dumps(json.loads(text), ensure_ascii=False, indent=2) + "\n"
