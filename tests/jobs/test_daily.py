"""The daily job as a function: what it records on the job run, and that a failure releases the lock."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from jobs.daily import DailyError, run_daily
from jobs.importer import FileResult
from jobs.lock import BATCH_LOCK, LockHeld, job_lock
from ledger.db import transaction
from ledger.models import JobLock, JobRun
from rules import load_rules


def _no_files(engine: Engine, paths: list[Path], profiles, actor: str) -> list[FileResult]:  # type: ignore[no-untyped-def]
    return [FileResult(file=str(paths[0] / "a.sta"), status="imported", format="mt940", statements=1, transactions=3)]


def test_the_job_run_keeps_the_summary(engine: Engine, tmp_path: Path) -> None:
    class Summary:
        def as_dict(self) -> dict:
            return {"considered": 3, "posted": 1, "posted_amount": "10.00", "allocations": 1, "queued": 2,
                    "queued_by_reason": {"ambiguous": 2}, "ignored": 0, "ignored_by_reason": {}}

    summary = run_daily(engine, tmp_path, load_rules(), actor="cron", import_files=_no_files,
                        match=lambda e, r, a: Summary())
    assert summary.status == "ok"
    data = summary.as_dict()
    # the stand-in matcher wrote no allocations, so there is nothing to break down by currency
    assert data["posted_automatically"] == {"transactions": 1, "allocations": 1, "amount": "10.00", "amount_by_currency": {}}
    assert data["queued"] == {"transactions": 2, "by_reason": {"ambiguous": 2}}
    with transaction(engine) as s:
        run = s.get(JobRun, summary.job_run_id)
        assert (run.kind, run.actor, run.status) == ("daily", "cron", "ok")
        assert run.finished_at is not None and run.summary["lines"] == {"new": 3, "already_known": 0}


def test_a_failing_match_marks_the_run_failed_and_releases_the_lock(engine: Engine, tmp_path: Path) -> None:
    def broken(engine: Engine, rules, actor: str):  # type: ignore[no-untyped-def]
        raise RuntimeError("matcher exploded")

    with pytest.raises(RuntimeError, match="matcher exploded"):
        run_daily(engine, tmp_path, load_rules(), import_files=_no_files, match=broken)
    with transaction(engine) as s:
        run = s.scalars(select(JobRun).where(JobRun.kind == "daily")).one()
        assert run.status == "failed" and "matcher exploded" in run.summary["error"]
        assert s.scalars(select(JobLock)).all() == []
    with job_lock(engine, BATCH_LOCK):  # free again
        pass


def test_the_inbox_must_be_a_folder(engine: Engine, tmp_path: Path) -> None:
    file = tmp_path / "x.sta"
    file.write_text("x")
    with pytest.raises(DailyError, match="is not a folder"):
        run_daily(engine, file, load_rules())
    with pytest.raises(DailyError, match="no such folder"):
        run_daily(engine, tmp_path / "missing", load_rules())


def test_a_held_lock_stops_before_anything_is_recorded(engine: Engine, tmp_path: Path) -> None:
    with job_lock(engine, BATCH_LOCK), pytest.raises(LockHeld):
        run_daily(engine, tmp_path, load_rules(), import_files=_no_files)
    with transaction(engine) as s:
        assert s.scalars(select(JobRun).where(JobRun.kind == "daily")).all() == []
