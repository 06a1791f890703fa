"""``healthbridge worker``: its process settings (its runs: pipeline/test_outbox.py)."""

from __future__ import annotations

import os

import pytest

from healthbridge.commands.worker import lower_priority


def test_the_priority_is_never_raised_and_a_refusal_is_not_fatal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Asked for a nice value at or below the current one, nothing is set; where the system
    refuses ``setpriority``, the worker goes on at its priority and says so."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    calls: list[tuple[int, int, int]] = []

    def refuse(which: int, who: int, prio: int) -> None:
        calls.append((which, who, prio))
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "setpriority", refuse)
    assert lower_priority(current) == current
    assert lower_priority(0) == current
    assert calls == []
    if current < 19:
        assert lower_priority(19) == current
        assert calls == [(os.PRIO_PROCESS, 0, 19)]
        assert "CPU priority left as started" in capsys.readouterr().err
