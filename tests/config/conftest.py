from __future__ import annotations

import sys

import pytest


@pytest.fixture(autouse=True)
def _restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading a study file puts its directory on sys.path; keep that inside each test."""
    monkeypatch.setattr(sys, "path", list(sys.path))
