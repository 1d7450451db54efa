"""Helpers for the evaluation tests (the digits runs are in tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def snapshot():
    """Every file under a folder with its bytes: "nothing overwritten" means equal snapshots."""

    def take(folder) -> dict:
        return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}

    return take
