"""``healthbridge token`` prints a verifiable token alone on standard output."""

from __future__ import annotations

import pytest

from healthbridge.access.errors import InvalidScopeError
from healthbridge.access.scopes import Permission, granted
from healthbridge.access.tokens import Role, verify_local
from healthbridge.cli import main
from healthbridge.config import get_settings

SECRET = "cli-test-secret-0123456789abcdefghij"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEALTHBRIDGE_AUTH_SECRET", SECRET)
    monkeypatch.setenv("HEALTHBRIDGE_ENVIRONMENT", "test")
    get_settings.cache_clear()


def test_token_prints_only_the_token(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "token",
            "--role",
            "paediatrician",
            "--user",
            "dr-li",
            "--fhir-user",
            "PractitionerRole/doc-h-role",
            "--org",
            "Organization/hosp-h",
            "--scopes",
            "user/Patient.rs user/Observation.cruds",
            "--lifetime",
            "30m",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("\n") == 1
    who = verify_local(out.strip(), secret=SECRET)
    assert who.role is Role.PAEDIATRICIAN
    assert who.subject == "dr-li"
    assert who.fhir_user == "PractitionerRole/doc-h-role"
    assert who.organization == "Organization/hosp-h"
    assert granted(who.scopes, "Observation", Permission.CREATE)
    assert not granted(who.scopes, "Patient", Permission.UPDATE)
    get_settings.cache_clear()


def test_token_refuses_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["token", "--role", "superuser", "--user", "x"])
    with pytest.raises(SystemExit):
        main(["token", "--role", "admin", "--user", "x", "--lifetime", "-5"])
    with pytest.raises(InvalidScopeError, match="permissions"):
        main(["token", "--role", "admin", "--user", "x", "--scopes", "patient/Observation.xyz"])
    capsys.readouterr()
    get_settings.cache_clear()


def test_weak_secret_refused_outside_development() -> None:
    from healthbridge.config import DEFAULT_AUTH_SECRET, Settings

    with pytest.raises(ValueError, match="AUTH_SECRET"):
        Settings(environment="production", auth_secret=DEFAULT_AUTH_SECRET)
    with pytest.raises(ValueError, match="AUTH_SECRET"):
        Settings(environment="production", auth_secret="short")
    assert Settings(environment="development", auth_secret=DEFAULT_AUTH_SECRET)
    with pytest.raises(ValueError, match="OIDC"):
        Settings(auth_mode="oidc")
    get_settings.cache_clear()
