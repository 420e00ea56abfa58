"""Shared test fixtures: a fresh database per test on SQLite and, when configured, PostgreSQL.

``RECON_TEST_DATABASE_URL`` (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/test``)
turns the PostgreSQL half on; each test then gets a schema of its own, dropped
afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, create_engine, text

from ledger.db import ensure_schema, make_engine

PG_URL = os.environ.get("RECON_TEST_DATABASE_URL")
ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not PG_URL, reason="RECON_TEST_DATABASE_URL is not set: PostgreSQL half skipped"),
        ],
    ),
]


def _pg_schema_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: SQLite in tmp_path, or an own schema on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'recon.db'}"
        return
    assert PG_URL
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield _pg_schema_url(PG_URL, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a fresh, migrated database."""
    eng = make_engine(db_url)
    ensure_schema(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def cli_run(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run ``recon`` in-process against the test database: ``cli_run("load", "customers", path)``."""
    from cli.main import cli

    monkeypatch.setenv("RECON_LOG_DIR", str(tmp_path / "log"))
    monkeypatch.setenv("RECON_NO_PROGRESS", "1")
    runner = CliRunner()

    def run(*args: str, expect: int | None = 0, user: str | None = None) -> Result:
        env = {"RECON_USER": user} if user else {}
        result = runner.invoke(cli, ["--db", db_url, *[str(a) for a in args]], env=env, catch_exceptions=False)
        if expect is not None:
            assert result.exit_code == expect, f"exit {result.exit_code}: {result.output}"
        return result

    return run
