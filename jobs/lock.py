"""A named job lock: two batch jobs on one database must never work at the same time.

``recon run daily`` holds it for the whole run, so a second daily job started
by a scheduler (an overlapping cron entry, a manual run, a retry) waits for it
or stops with a clear message instead of importing and matching the same
files twice.

How it is held:

* **PostgreSQL**: ``pg_try_advisory_lock`` on a connection of its own, kept
  open for the job's life.  The server releases the lock when that
  connection ends, so a killed job never leaves a stale lock.  The key is
  derived from the database, the schema and the lock name, so two recon
  schemas in one database do not block each other.  A ``job_locks`` row is
  written too, only so that a waiting job can say who holds the lock.
* **SQLite** (and any other database): a row in ``job_locks`` whose primary
  key is the lock name, inserted by the holder and deleted when it ends.  The
  holder is written as ``host:pid``; a row left behind by a process that no
  longer runs on this host is stale and taken over (with a warning in the
  log).  A row from another host cannot be checked that way; it counts as
  stale after ``stale_after`` (24 hours by default).

A second job asks again every ``poll`` seconds for up to ``wait`` seconds
(``0``: ask once) and then raises :class:`LockHeld`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, delete, insert, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from ledger.models import JobLock, utcnow

log = logging.getLogger("recon.lock")

BATCH_LOCK = "batch"
"""The lock every batch job that imports or posts takes (the daily job; import and match may share it)."""

STALE_AFTER = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class LockInfo:
    """Who holds a lock and since when (``holder`` is ``host:pid``; unknown values are ``None``)."""

    name: str
    holder: str | None
    acquired_at: datetime | None

    def describe(self) -> str:
        """``held by web-1:4242 since 2026-11-02 06:00:03 UTC`` (or what is known of it)."""
        who = f"held by {self.holder}" if self.holder else "held by another process"
        if self.acquired_at is None:
            return who
        at = self.acquired_at if self.acquired_at.tzinfo else self.acquired_at.replace(tzinfo=UTC)
        return f"{who} since {at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


class LockHeld(Exception):
    """Another job holds the lock (after waiting as long as asked)."""

    def __init__(self, info: LockInfo, waited: float) -> None:
        self.info = info
        self.waited = waited
        waited_text = f" after waiting {waited:.0f}s" if waited >= 1 else ""
        super().__init__(f"another {info.name} job is running ({info.describe()}){waited_text}")


def holder_id() -> str:
    """This process as a lock holder: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return True  # cannot tell: assume alive, never steal a live lock
    return True


def is_stale(info: LockInfo, *, now: datetime | None = None, stale_after: timedelta = STALE_AFTER) -> bool:
    """Whether a ``job_locks`` row was left behind by a job that is gone.

    On this host: its process no longer exists.  From another host (a shared
    database file): it is older than ``stale_after``.
    """
    if not info.holder or ":" not in info.holder:
        return False
    host, _, pid_text = info.holder.rpartition(":")
    if host == socket.gethostname() and pid_text.isdigit():
        return not _pid_alive(int(pid_text))
    if info.acquired_at is None:
        return False
    at = info.acquired_at if info.acquired_at.tzinfo else info.acquired_at.replace(tzinfo=UTC)
    return (now or utcnow()) - at > stale_after


class JobLockHandle:
    """One attempt to hold ``name`` on ``engine``; use :func:`job_lock` rather than this directly."""

    def __init__(self, engine: Engine, name: str, *, stale_after: timedelta = STALE_AFTER) -> None:
        self.engine = engine
        self.name = name
        self.holder = holder_id()
        self.stale_after = stale_after
        self._conn: Connection | None = None
        self._key: int | None = None
        self.acquired_at: datetime | None = None

    # --- public -----------------------------------------------------------------------------------

    def try_acquire(self) -> LockInfo | None:
        """Take the lock if free: ``None`` on success, else who holds it."""
        if self.engine.dialect.name == "postgresql":
            return self._try_postgresql()
        return self._try_row()

    def release(self) -> None:
        """Give the lock back (safe to call twice; never raises)."""
        if self.engine.dialect.name == "postgresql":
            self._release_postgresql()
        elif self.acquired_at is not None:  # never delete a row another job (maybe in this process) holds
            self._delete_row()
        self.acquired_at = None

    # --- the lock row (SQLite and others) ---------------------------------------------------------

    def _read_row(self, conn: Connection) -> LockInfo | None:
        row = conn.execute(select(JobLock.holder, JobLock.acquired_at).where(JobLock.name == self.name)).first()
        return None if row is None else LockInfo(self.name, row.holder, row.acquired_at)

    def _try_row(self) -> LockInfo | None:
        for _ in range(3):  # a stale row taken over by someone else in between: look again
            now = utcnow()
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(JobLock).values(name=self.name, holder=self.holder, acquired_at=now))
                self.acquired_at = now
                return None
            except IntegrityError:
                pass
            with self.engine.begin() as conn:
                info = self._read_row(conn)
                if info is None:
                    continue  # released between our insert and our read
                if not is_stale(info, stale_after=self.stale_after):
                    return info
                log.warning("taking over the stale %s lock %s", self.name, info.describe())
                # only the row we judged stale: if another job took it over meanwhile, theirs stays
                conn.execute(
                    delete(JobLock).where(JobLock.name == self.name, JobLock.holder == info.holder)
                )
        return self._read_row_once() or LockInfo(self.name, None, None)

    def _read_row_once(self) -> LockInfo | None:
        with self.engine.connect() as conn:
            return self._read_row(conn)

    def _delete_row(self) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(JobLock).where(JobLock.name == self.name, JobLock.holder == self.holder))
        except Exception:  # noqa: BLE001 - releasing must not hide the job's own outcome
            log.exception("could not release the %s lock", self.name)

    # --- PostgreSQL advisory lock -----------------------------------------------------------------

    def _advisory_key(self, conn: Connection) -> int:
        database, schema = conn.execute(text("SELECT current_database(), current_schema()")).one()
        digest = hashlib.sha256(f"recon-job-lock\x1f{database}\x1f{schema}\x1f{self.name}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    def _try_postgresql(self) -> LockInfo | None:
        if self._conn is None:
            # autocommit: the connection holds the lock for hours and must not sit "idle in transaction"
            self._conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self._key = self._advisory_key(self._conn)
        got = self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key}).scalar()
        if not got:
            return self._read_row(self._conn) or LockInfo(self.name, None, None)
        now = utcnow()
        # we hold the advisory lock, so no other recon job writes this row now; a row left by a
        # killed job (its advisory lock died with its connection) is simply replaced
        self._conn.execute(delete(JobLock).where(JobLock.name == self.name))
        self._conn.execute(insert(JobLock).values(name=self.name, holder=self.holder, acquired_at=now))
        self.acquired_at = now
        return None

    def _release_postgresql(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if self.acquired_at is not None:
                conn.execute(delete(JobLock).where(JobLock.name == self.name, JobLock.holder == self.holder))
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            conn.close()
        except Exception:  # noqa: BLE001 - a dead connection has released the lock already
            log.exception("could not release the %s lock cleanly; dropping its connection", self.name)
            try:
                conn.invalidate()
                conn.close()
            except Exception:  # noqa: BLE001
                pass


@contextmanager
def job_lock(
    engine: Engine,
    name: str = BATCH_LOCK,
    *,
    wait: float = 0,
    poll: float = 0.5,
    on_wait: Callable[[LockInfo], None] | None = None,
    stale_after: timedelta = STALE_AFTER,
) -> Iterator[JobLockHandle]:
    """Hold the job lock ``name`` for the ``with`` block.

    ``wait``: seconds to keep trying while another job holds it (0: try once);
    ``on_wait`` is called once, with the holder, when waiting starts.  Raises
    :class:`LockHeld` when the lock is still held after that.
    """
    handle = JobLockHandle(engine, name, stale_after=stale_after)
    started = time.monotonic()
    deadline = started + max(wait, 0)
    told = False
    try:
        while True:
            try:
                info = handle.try_acquire()
            except OperationalError as exc:
                # SQLite busy beyond its timeout counts as "held" rather than as a crash
                if engine.dialect.name == "postgresql":
                    raise
                log.warning("lock table busy: %s", exc)
                info = LockInfo(name, None, None)
            if info is None:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LockHeld(info, time.monotonic() - started)
            if on_wait is not None and not told:
                on_wait(info)
                told = True
            time.sleep(min(poll, remaining))
    except BaseException:
        handle.release()
        raise
    try:
        yield handle
    finally:
        handle.release()
