"""``create_app(freeze_gc=True)``: the server's start-up objects leave the collector's sweeps."""

from __future__ import annotations

import gc
from typing import Any

from fastapi.testclient import TestClient

from healthbridge.fhir import base_validation, r4
from healthbridge.server.app import create_app


def test_freeze_gc_freezes_after_start_up_and_compiles_the_validator(settings: Any) -> None:
    gc.unfreeze()
    base_validation._node.cache_clear()
    try:
        with TestClient(create_app(settings, freeze_gc=True)) as client:
            assert gc.get_freeze_count() > 0
            compiled = {t for t, _path in base_validation._compiled_nodes()}
            assert compiled >= set(r4.SUPPORTED_TYPES)
            assert client.get("/fhir/metadata").status_code == 200
    finally:
        gc.unfreeze()  # the test process must not keep them out of collections


def test_apps_do_not_freeze_by_default(settings: Any) -> None:
    gc.unfreeze()
    with TestClient(create_app(settings)) as client:
        assert client.get("/fhir/metadata").status_code == 200
        assert gc.get_freeze_count() == 0
