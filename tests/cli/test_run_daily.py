"""``recon run daily`` in-process: the summary, repeat runs, a rejected file, the lock, on both databases."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from jobs.lock import BATCH_LOCK, holder_id, job_lock
from ledger.db import transaction
from ledger.models import Allocation, BankTransaction, JobRun, StatementFile
from tests.conftest import FIXTURES

E2E = FIXTURES / "e2e"


@pytest.fixture
def inbox(cli_run, tmp_path: Path) -> Path:
    """Master data loaded; an inbox holding the first statement."""
    cli_run("load", "customers", E2E / "customers.csv")
    cli_run("load", "invoices", E2E / "invoices.csv")
    box = tmp_path / "inbox"
    shutil.copytree(E2E / "inbox", box)
    return box


def _counts(engine: Engine) -> tuple[int, int, int]:
    with transaction(engine) as s:
        return (
            s.scalar(select(func.count()).select_from(StatementFile)),
            s.scalar(select(func.count()).select_from(BankTransaction)),
            s.scalar(select(func.count()).select_from(Allocation).where(Allocation.status == "posted")),
        )


def test_daily_imports_matches_and_summarises(cli_run, inbox: Path, tmp_path: Path, engine: Engine) -> None:
    summary_file = tmp_path / "out" / "last.json"
    summary_file.parent.mkdir()
    out = cli_run("run", "daily", "--inbox", inbox, "--summary", summary_file).output
    assert "files      1: 1 imported, 0 skipped (imported before), 0 rejected" in out
    assert "lines      6 new, 0 already known" in out
    assert "posted     2 automatically (2 allocation(s)), 1,830.00" in out
    assert "queued     3: ambiguous 1, amount-mismatch 1, unknown-payer 1" in out
    assert "set aside  1: debit 1" in out
    assert "queue      3 open, 3,792.40 in all (recon queue list)" in out
    data = json.loads(summary_file.read_text(encoding="utf-8"))
    assert data["status"] == "ok" and data["job"] == "daily"
    assert data["files"] == {"total": 1, "imported": 1, "skipped": 0, "rejected": 0}
    assert data["lines"] == {"new": 6, "already_known": 0}
    assert data["posted_automatically"] == {
        "transactions": 2, "allocations": 2, "amount": "1830.00", "amount_by_currency": {"EUR": "1830.00"}
    }
    assert data["queued"] == {"transactions": 3, "by_reason": {"ambiguous": 1, "amount-mismatch": 1, "unknown-payer": 1}}
    assert data["set_aside"] == {"transactions": 1, "by_reason": {"debit": 1}}
    assert data["queue_after_run"]["open"] == 3 and data["queue_after_run"]["amount"] == "3792.40"
    assert data["file_results"][0]["status"] == "imported" and data["rejected"] == []
    with transaction(engine) as s:
        run = s.get(JobRun, data["job_run_id"])
        assert (run.kind, run.status, run.summary["lines"]) == ("daily", "ok", {"new": 6, "already_known": 0})
    assert not list(summary_file.parent.glob(".*.tmp"))

    # the same inbox again: nothing imported twice, nothing posted twice
    again = json.loads(cli_run("run", "daily", "--inbox", inbox, "--format", "json").output)
    assert again["files"] == {"total": 1, "imported": 0, "skipped": 1, "rejected": 0}
    assert again["posted_automatically"]["transactions"] == 0 and again["queue_after_run"]["open"] == 3
    assert _counts(engine) == (1, 6, 2)

    # the next day's statement overlaps the first: known lines are counted, not stored again
    shutil.copy(next((E2E / "day2").iterdir()), inbox)
    day2 = json.loads(cli_run("run", "daily", "--inbox", inbox, "--format", "json").output)
    assert day2["files"] == {"total": 2, "imported": 1, "skipped": 1, "rejected": 0}
    assert day2["lines"] == {"new": 2, "already_known": 2}
    assert day2["posted_automatically"] == {
        "transactions": 2, "allocations": 2, "amount": "2310.00", "amount_by_currency": {"EUR": "2310.00"}
    }
    assert _counts(engine) == (2, 8, 4)


def test_a_rejected_file_is_named_the_rest_goes_on_and_the_exit_status_is_1(
    cli_run, inbox: Path, tmp_path: Path, engine: Engine
) -> None:
    broken = next((E2E / "broken").iterdir())
    shutil.copy(broken, inbox)
    summary_file = tmp_path / "last.json"
    result = cli_run("run", "daily", "--inbox", inbox, "--summary", summary_file, expect=1)
    assert "files      2: 1 imported, 0 skipped (imported before), 1 rejected" in result.output
    assert f"  rejected  {inbox / broken.name}" in result.output
    assert "exit status 1: 1 file(s) rejected" in result.output
    assert "Traceback" not in result.output
    data = json.loads(summary_file.read_text(encoding="utf-8"))
    assert data["status"] == "partial" and len(data["rejected"]) == 1 and broken.name in data["rejected"][0]
    assert data["posted_automatically"]["transactions"] == 2  # matching went on
    assert _counts(engine) == (1, 6, 2)
    with transaction(engine) as s:
        assert s.get(JobRun, data["job_run_id"]).status == "partial"


def test_another_job_holding_the_lock_means_exit_3_and_nothing_done(
    cli_run, inbox: Path, tmp_path: Path, engine: Engine
) -> None:
    summary_file = tmp_path / "last.json"
    with job_lock(engine, BATCH_LOCK):
        result = cli_run("run", "daily", "--inbox", inbox, "--summary", summary_file, expect=3)
    assert result.output.startswith(f"recon: error: another batch job is running (held by {holder_id()} since ")
    assert "nothing was done (use --wait SECONDS to wait for it)" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert json.loads(summary_file.read_text(encoding="utf-8"))["status"] == "locked"
    assert _counts(engine) == (0, 0, 0)
    # recon match shares the lock
    with job_lock(engine, BATCH_LOCK):
        assert "another batch job is running" in cli_run("match", expect=3).output


def test_wait_lets_the_second_job_run_after_the_first(cli_run, inbox: Path, engine: Engine) -> None:
    held = threading.Event()

    def first() -> None:
        with job_lock(engine, BATCH_LOCK):
            held.set()
            time.sleep(1.5)

    th = threading.Thread(target=first)
    th.start()
    held.wait(10)
    result = cli_run("run", "daily", "--inbox", inbox, "--wait", "30")
    th.join(10)
    assert "another recon job is running (held by" in result.output and "waiting up to 30s" in result.output
    assert "lines      6 new" in result.output
    assert _counts(engine) == (1, 6, 2)


def test_usage_errors(cli_run, tmp_path: Path) -> None:
    result = cli_run("run", "daily", "--inbox", tmp_path / "nowhere", expect=2)
    assert "does not exist" in result.output
    rules = tmp_path / "bad.toml"
    rules.write_text("this is = = not toml", encoding="utf-8")
    inbox = tmp_path / "in"
    inbox.mkdir()
    result = cli_run("run", "daily", "--inbox", inbox, "--rules", rules, expect=1)
    assert "not valid TOML" in result.output and "Traceback" not in result.output


def test_an_empty_inbox_still_matches(cli_run, tmp_path: Path) -> None:
    box = tmp_path / "empty"
    box.mkdir()
    out = cli_run("run", "daily", "--inbox", box).output
    assert "files      0: 0 imported" in out and "queue      0 open, 0.00 in all" in out
