"""The daily job behind ``recon run daily``: import what is new in the inbox, match, summarise.

One run, under the batch job lock (:mod:`jobs.lock`), so two runs started at
once (an overlapping cron entry, a retry, a person running it by hand) never
both work: the second waits up to ``wait`` seconds or stops with
:class:`~jobs.lock.LockHeld`.

1. every file under the inbox folder is handed to the import job; a file
   imported before (same content) is skipped, so the inbox may keep old
   files; hidden files (names starting with ``.``) are left alone, so an
   upload written as ``.name.part`` and renamed when complete is never read
   half-written;
2. the match job settles every new transaction (booking-date order);
3. the summary says what happened: files (imported, skipped, rejected with
   the reason), lines (new, already known), posted automatically (count and
   amount), queued by reason, set aside by reason, and the open queue after
   the run.  It is stored on the job run (``job_runs``) and returned.

Both steps are safe to repeat: running the job again imports nothing twice
and posts nothing twice.  A rejected file does not stop the others or the
match; it makes the run ``partial`` (exit status 1 for a scheduler).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from jobs.importer import FileResult, import_paths
from jobs.lock import BATCH_LOCK, LockInfo, job_lock
from ledger.db import transaction
from ledger.models import Allocation, BankTransaction, JobRun, QueueItem, utcnow
from rules import Rules

log = logging.getLogger("recon.daily")

ImportFn = Callable[[Engine, list[Path], Sequence[str], str], list[FileResult]]
MatchFn = Callable[[Engine, Rules, str], Any]


class DailyError(Exception):
    """The job cannot start (e.g. the inbox is not a folder); the message is for the user."""


def _import(engine: Engine, paths: list[Path], profiles: Sequence[str], actor: str) -> list[FileResult]:
    return import_paths(engine, paths, profiles, actor=actor)


def _match(engine: Engine, rules: Rules, actor: str) -> Any:
    from jobs.match import run_match

    return run_match(engine, rules, actor=actor)


@dataclass
class DailySummary:
    """What one daily run did (``as_dict`` is the ``--summary FILE`` JSON)."""

    inbox: str
    job_run_id: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    files: list[FileResult] = field(default_factory=list)
    match: dict[str, Any] = field(default_factory=dict)
    queue_open: int = 0
    queue_open_amount: Decimal = Decimal("0.00")
    queue_open_by_reason: dict[str, int] = field(default_factory=dict)
    # amounts per currency: a total across currencies would mean nothing
    posted_by_currency: dict[str, Decimal] = field(default_factory=dict)
    queue_open_by_currency: dict[str, Decimal] = field(default_factory=dict)

    @property
    def rejected(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "rejected"]

    @property
    def status(self) -> str:
        """``ok``, or ``partial`` when a file was rejected (the scheduler's exit status 1)."""
        return "partial" if self.rejected else "ok"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: money as exact strings, times in UTC ISO 8601."""
        count = {s: sum(f.status == s for f in self.files) for s in ("imported", "skipped", "rejected")}
        match = dict(self.match)
        return {
            "job": "daily",
            "job_run_id": self.job_run_id,
            "status": self.status,
            "inbox": self.inbox,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "files": {"total": len(self.files), **count},
            "lines": {
                "new": sum(f.transactions for f in self.files),
                "already_known": sum(f.duplicates for f in self.files),
            },
            "posted_automatically": {
                "transactions": match.get("posted", 0),
                "allocations": match.get("allocations", 0),
                "amount": _single(self.posted_by_currency, match.get("posted_amount", "0.00")),
                "amount_by_currency": {c: str(a) for c, a in self.posted_by_currency.items()},
            },
            "queued": {"transactions": match.get("queued", 0), "by_reason": match.get("queued_by_reason", {})},
            "set_aside": {"transactions": match.get("ignored", 0), "by_reason": match.get("ignored_by_reason", {})},
            "queue_after_run": {
                "open": self.queue_open,
                "amount": _single(self.queue_open_by_currency, self.queue_open_amount),
                "amount_by_currency": {c: str(a) for c, a in self.queue_open_by_currency.items()},
                "by_reason": self.queue_open_by_reason,
            },
            "match": match,
            "file_results": [f.as_dict() for f in self.files],
            "rejected": [f.error for f in self.rejected],
        }


def _single(by_currency: dict[str, Decimal], total: Any) -> str | None:
    """The total as a string when one currency is involved; None when several are (see ``amount_by_currency``)."""
    return None if len(by_currency) > 1 else str(total)


def _by_currency(rows: Any) -> dict[str, Decimal]:
    return {(c or "?"): Decimal(str(a)).quantize(Decimal("0.01")) for c, a in sorted(rows, key=lambda r: r[0] or "")}


def _queue_state(engine: Engine, summary: DailySummary) -> None:
    with transaction(engine) as s:
        summary.queue_open_by_currency = _by_currency(s.execute(
            select(BankTransaction.currency, func.coalesce(func.sum(BankTransaction.amount), 0))
            .join(QueueItem, QueueItem.transaction_id == BankTransaction.id)
            .where(QueueItem.status == "open")
            .group_by(BankTransaction.currency)
        ).all())
        match_run = summary.match.get("job_run_id")
        if match_run is not None:
            posted_ids = select(Allocation.transaction_id).where(
                Allocation.job_run_id == match_run, Allocation.automatic.is_(True), Allocation.status == "posted"
            )
            summary.posted_by_currency = _by_currency(s.execute(
                select(BankTransaction.currency, func.coalesce(func.sum(BankTransaction.amount), 0))
                .where(BankTransaction.id.in_(posted_ids), BankTransaction.status == "posted")
                .group_by(BankTransaction.currency)
            ).all())
        rows = s.execute(
            select(QueueItem.reason, func.count(), func.coalesce(func.sum(BankTransaction.amount), 0))
            .join(BankTransaction, BankTransaction.id == QueueItem.transaction_id)
            .where(QueueItem.status == "open")
            .group_by(QueueItem.reason)
        ).all()
    summary.queue_open = sum(n for _, n, _ in rows)
    summary.queue_open_amount = sum((Decimal(str(a)) for _, _, a in rows), Decimal("0")).quantize(Decimal("0.01"))
    summary.queue_open_by_reason = dict(sorted(((r, n) for r, n, _ in rows), key=lambda kv: (-kv[1], kv[0])))


def run_daily(
    engine: Engine,
    inbox: Path,
    rules: Rules,
    *,
    profiles: Sequence[str] = (),
    actor: str = "recon",
    wait: float = 0,
    on_wait: Callable[[LockInfo], None] | None = None,
    import_files: ImportFn = _import,
    match: MatchFn = _match,
) -> DailySummary:
    """Run the daily job once (see the module docstring); raises ``LockHeld`` when another job runs.

    ``import_files`` and ``match`` default to the import and match jobs; the
    command passes versions of them that draw progress bars on a terminal.
    """
    if not inbox.is_dir():
        raise DailyError(f"{inbox}: the inbox is not a folder" if inbox.exists() else f"{inbox}: no such folder")
    summary = DailySummary(inbox=str(inbox))
    with job_lock(engine, BATCH_LOCK, wait=wait, on_wait=on_wait):
        summary.started_at = utcnow()
        with transaction(engine) as s:
            run = JobRun(kind="daily", actor=actor, started_at=summary.started_at, status="running")
            s.add(run)
            s.flush()
            summary.job_run_id = run.id
        try:
            summary.files = import_files(engine, [inbox], profiles, actor)
            result = match(engine, rules, actor)
            summary.match = result.as_dict() if hasattr(result, "as_dict") else dict(result)
            _queue_state(engine, summary)
        except BaseException as exc:
            _finish(engine, summary, "failed", error=f"{type(exc).__name__}: {exc}")
            raise
        _finish(engine, summary, summary.status)
    return summary


def _finish(engine: Engine, summary: DailySummary, status: str, error: str | None = None) -> None:
    summary.finished_at = utcnow()
    try:
        with transaction(engine) as s:
            run = s.get(JobRun, summary.job_run_id)
            if run is not None:
                run.status = status
                run.finished_at = summary.finished_at
                data = summary.as_dict()
                if error:
                    data["error"] = error[:500]
                run.summary = data
    except Exception:  # noqa: BLE001 - recording the outcome must not hide the job's own error
        log.exception("could not record the outcome of daily run %s", summary.job_run_id)
