"""Shared fixtures: one forkserver for the session, and the solutions folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from xent_grader.sandbox.forkserver import start_forkserver

SOLUTIONS = Path(__file__).resolve().parent.parent / "solutions"


@pytest.fixture(scope="session", autouse=True)
def forkserver():
    start_forkserver()


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Keep practice state (hint levels) out of the real home folder."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("NO_COLOR", "1")
