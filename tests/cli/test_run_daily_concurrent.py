"""Two ``recon run daily`` processes started together on one database: one works, the other waits or refuses.

Real subprocesses, on SQLite and on PostgreSQL.  To make "at the same time"
certain rather than lucky (the whole job takes well under a second), the
test slows the job that got the lock down from the outside:

* PostgreSQL: the test holds ``LOCK TABLE statement_files`` before both start;
  the job that takes the job lock then waits inside its import, while the
  other one asks for the job lock.
* SQLite: as soon as one job has written the lock row, the test takes the
  database's write lock for two seconds; both jobs stall on their next write
  and the second one finds the lock row when it gets through.

Whatever the timing, nothing may be imported or posted twice.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from ledger.db import transaction
from ledger.models import Allocation, AuditEntry, BankTransaction, JobLock, JobRun, StatementFile
from tests.conftest import FIXTURES, ROOT

E2E = FIXTURES / "e2e"


@pytest.fixture
def inbox(cli_run, tmp_path: Path) -> Path:
    cli_run("load", "customers", E2E / "customers.csv")
    cli_run("load", "invoices", E2E / "invoices.csv")
    box = tmp_path / "inbox"
    shutil.copytree(E2E / "inbox", box)
    return box


def _start(db_url: str, inbox: Path, tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "RECON_NO_PROGRESS": "1", "RECON_LOG_DIR": str(tmp_path / "log"), "PYTHONPATH": str(ROOT)}
    env.pop("RECON_DATABASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "--db", db_url, "run", "daily", "--inbox", str(inbox), "--format", "json",
         *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env,
    )


def _finish(procs: list[subprocess.Popen[str]], timeout: float = 120) -> list[tuple[int, str, str]]:
    out = []
    for p in procs:
        try:
            stdout, stderr = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            stdout, stderr = p.communicate()
            pytest.fail(f"recon run daily did not finish: {stderr}")
        out.append((p.returncode, stdout, stderr))
    return out


def _assert_done_once(engine: Engine, daily_ok: int) -> None:
    """The inbox's file imported once, its six lines stored once, the two certain payments posted once."""
    with transaction(engine) as s:
        assert s.scalar(select(func.count()).select_from(StatementFile)) == 1
        assert s.scalar(select(func.count()).select_from(BankTransaction)) == 6
        assert s.scalar(select(func.count()).select_from(Allocation)) == 2
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "post")) == 2
        runs = s.execute(select(JobRun.status, func.count()).where(JobRun.kind == "daily").group_by(JobRun.status))
        assert dict(runs.all()) == {"ok": daily_ok}
        assert s.scalars(select(JobLock)).all() == []  # released


def _block_the_winner(engine: Engine, db_url: str) -> tuple[object, threading.Thread | None]:
    """PostgreSQL: lock statement_files now.  SQLite: a thread takes the write lock once a job holds the job lock."""
    if engine.dialect.name == "postgresql":
        conn = engine.connect()
        conn.execute(text("LOCK TABLE statement_files IN ACCESS EXCLUSIVE MODE"))
        return conn, None
    path = db_url.removeprefix("sqlite:///")

    def block() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with transaction(engine) as s:
                if s.scalars(select(JobLock)).first() is not None:
                    break
            time.sleep(0.005)
        db = sqlite3.connect(path, timeout=30, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        time.sleep(2.0)
        db.execute("ROLLBACK")
        db.close()

    th = threading.Thread(target=block)
    th.start()
    return None, th


def _release(conn: object, thread: threading.Thread | None) -> None:
    if conn is not None:
        conn.rollback()  # type: ignore[attr-defined]
        conn.close()  # type: ignore[attr-defined]
    if thread is not None:
        thread.join(60)


def test_two_daily_jobs_started_together_one_works_the_other_refuses(
    engine: Engine, db_url: str, inbox: Path, tmp_path: Path
) -> None:
    conn, thread = _block_the_winner(engine, db_url)
    try:
        procs = [_start(db_url, inbox, tmp_path), _start(db_url, inbox, tmp_path)]
        # the refused one ends on its own while the other is held up
        deadline = time.monotonic() + 90
        while all(p.poll() is None for p in procs) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        _release(conn, thread)
    results = _finish(procs)
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 3], results
    refused = next(r for r in results if r[0] == 3)
    worked = next(r for r in results if r[0] == 0)
    assert refused[2].startswith("recon: error: another batch job is running (held by "), refused[2]
    assert "nothing was done" in refused[2] and "Traceback" not in refused[2]
    summary = json.loads(worked[1])
    assert summary["lines"]["new"] == 6 and summary["posted_automatically"]["transactions"] == 2
    _assert_done_once(engine, daily_ok=1)


def test_two_daily_jobs_started_together_the_second_waits_then_finds_nothing_new(
    engine: Engine, db_url: str, inbox: Path, tmp_path: Path
) -> None:
    conn, thread = _block_the_winner(engine, db_url)
    try:
        procs = [_start(db_url, inbox, tmp_path, "--wait", "120"), _start(db_url, inbox, tmp_path, "--wait", "120")]
        time.sleep(3.0)  # both started and one is waiting for the other
    finally:
        _release(conn, thread)
    results = _finish(procs)
    assert [code for code, _, _ in results] == [0, 0], results
    summaries = [json.loads(stdout) for _, stdout, _ in results]
    assert sorted(s["lines"]["new"] for s in summaries) == [0, 6]
    assert sorted(s["files"]["imported"] for s in summaries) == [0, 1]
    assert sorted(s["posted_automatically"]["transactions"] for s in summaries) == [0, 2]
    waited = [stderr for _, _, stderr in results if "waiting up to 120s" in stderr]
    assert len(waited) == 1, results
    _assert_done_once(engine, daily_ok=2)


def test_two_daily_jobs_started_together_without_help_never_double_count(
    engine: Engine, db_url: str, inbox: Path, tmp_path: Path
) -> None:
    """No outside help: whatever the timing, each exits 0 or 3, at least one works, nothing twice."""
    results = _finish([_start(db_url, inbox, tmp_path), _start(db_url, inbox, tmp_path)])
    codes = [code for code, _, _ in results]
    assert set(codes) <= {0, 3} and 0 in codes, results
    _assert_done_once(engine, daily_ok=codes.count(0))
