"""The job lock on SQLite and PostgreSQL: one holder at a time, waiting, stale and killed holders."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import Engine, insert, select

from jobs.lock import LockHeld, LockInfo, holder_id, is_stale, job_lock
from ledger.db import transaction
from ledger.models import JobLock, utcnow
from tests.conftest import ROOT


def _rows(engine: Engine) -> list[tuple[str, str]]:
    with transaction(engine) as s:
        return [(r.name, r.holder) for r in s.scalars(select(JobLock))]


def test_a_second_holder_is_refused_with_who_holds_it(engine: Engine) -> None:
    with job_lock(engine, "daily"):
        assert _rows(engine) == [("daily", holder_id())]
        with pytest.raises(LockHeld) as caught, job_lock(engine, "daily"):
            pytest.fail("the lock was taken twice")
        assert f"another daily job is running (held by {holder_id()} since " in str(caught.value)
        # another name is another lock
        with job_lock(engine, "reports"):
            pass
        assert _rows(engine) == [("daily", holder_id())]  # the refused attempt did not remove the holder's row
    assert _rows(engine) == []
    with job_lock(engine, "daily"):  # free again
        pass


def test_the_second_job_waits_for_the_first(engine: Engine) -> None:
    first_in = threading.Event()
    events: list[str] = []

    def first() -> None:
        with job_lock(engine, "daily"):
            first_in.set()
            time.sleep(1.5)
            events.append("first done")

    th = threading.Thread(target=first)
    th.start()
    first_in.wait(10)
    seen: list[LockInfo] = []
    started = time.monotonic()
    with job_lock(engine, "daily", wait=30, poll=0.1, on_wait=seen.append):
        events.append("second in")
    th.join(10)
    assert events == ["first done", "second in"]
    assert time.monotonic() - started >= 1.0
    assert len(seen) == 1 and seen[0].holder == holder_id()


def test_waiting_has_a_limit(engine: Engine) -> None:
    with job_lock(engine, "daily"):
        started = time.monotonic()
        with pytest.raises(LockHeld, match="after waiting 1s"), job_lock(engine, "daily", wait=1.2, poll=0.2):
            pass
        assert 1.1 <= time.monotonic() - started < 10


def test_a_lock_row_of_a_process_that_is_gone_is_taken_over(engine: Engine) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale_holder = f"{socket.gethostname()}:{int(dead.stdout)}"
    with transaction(engine) as s:
        s.execute(insert(JobLock).values(name="daily", holder=stale_holder, acquired_at=utcnow()))
    with job_lock(engine, "daily"):
        assert _rows(engine) == [("daily", holder_id())]


def test_staleness_rules() -> None:
    now = utcnow()
    me = holder_id()
    assert not is_stale(LockInfo("x", me, now))
    assert not is_stale(LockInfo("x", "other-host:1", now - timedelta(hours=2)))
    assert is_stale(LockInfo("x", "other-host:1", now - timedelta(hours=25)))
    assert not is_stale(LockInfo("x", None, None))


HOLDER = textwrap.dedent(
    """
    import sys, time
    from ledger.db import make_engine
    from jobs.lock import job_lock
    engine = make_engine(sys.argv[1])
    with job_lock(engine, "daily"):
        print("locked", flush=True)
        time.sleep(120)
    """
)


def test_a_killed_holder_does_not_block_the_next_job(engine: Engine, db_url: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, db_url], stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(LockHeld, match=f":{proc.pid} since"), job_lock(engine, "daily"):
            pass
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        # PostgreSQL frees the advisory lock with the connection; on SQLite the row's pid is gone
        with job_lock(engine, "daily", wait=10, poll=0.2):
            assert _rows(engine) == [("daily", holder_id())]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
