"""Fixtures for the report tests: the hand-checked October 2026 books on every backend."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from tests.reports.dataset import Clock, install_clock, october_books


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """``ledger.posting`` stamps decisions with this clock."""
    return install_clock(monkeypatch)


@pytest.fixture
def october(engine: Engine, clock: Clock) -> dict[str, Any]:
    """The books of ``tests/reports/dataset.py``; the transaction ids by name (T1 ... T11)."""
    return october_books(engine, clock)
