"""Reading a statement file in a second process while the caller stores what was read.

``parse_in_worker(parser, path)`` answers exactly what ``parser.parse(path)``
answers (the same statements and lines, the same :class:`ParseError` with the
same line, the same ``OSError``), but the parse runs in a child Python process
and the lines come over a pipe in batches.  The import job uses it for large
files (see ``jobs.importer.use_worker``): parsing a 100 MB camt file and writing
its lines into the database each keep one core busy, and on two cores they then
overlap instead of taking turns.  The database transaction stays in the calling
process; the child never touches the database, so a parse error anywhere still
rolls back everything of the file.

The child answers with frames (an 8-byte length, a 1-byte kind, the payload):

* lines travel in batches of ``BATCH`` as ``marshal`` data (kind 1), much cheaper
  to write and read than pickle; marshal knows no dates and no Decimals, so the
  dates travel as ordinals and the amount as its exact text.  A batch holding
  anything else (a parser handing out another type) goes as pickle instead.
* everything else is a pickled tuple (kind 0): ``("statement", fields)`` when
  the parser yields a statement (its fields but ``lines``, as they are then),
  ``("end", fields)`` after its lines (a streaming parser fills in balances and
  warnings only at the end), ``("done",)``; or ``("error", message, line)`` for a
  :class:`ParseError`, ``("oserror", errno, strerror, filename)``, ``("failed",
  type, message, traceback)`` for anything else (a parser bug), after which the
  child stops.

The child parses and writes, nothing else.  In the caller a thread reads the
pipe into a queue of at most ``_QUEUED`` frames, so the child goes on parsing
while the caller is busy in a long database call, and memory stays bounded: a
full queue stops the reading, a full pipe stops the child.  Closing the returned
iterator (or its garbage collection) kills a child that still runs, so a caller
that stops early (a database error, a parse error) leaves nothing behind.
Everything the child has to say comes as frames: its standard output goes to
``/dev/null``, and its standard error (where Python might write its last words
before it dies) to a temporary file that only an error message quotes, so no
traceback reaches a user's terminal.  Ctrl-C is the parent's to handle.
"""

from __future__ import annotations

import gc
import marshal
import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterator
from dataclasses import fields
from datetime import date
from decimal import Decimal
from operator import attrgetter
from pathlib import Path
from typing import IO, Any

from parsers.base import ParseError, Parser, Statement, StatementLine

try:
    import fcntl
except ImportError:  # not a POSIX system: pipes keep their default size
    fcntl = None  # type: ignore[assignment]

BATCH = 64  # lines per frame: small batches free their lines while they are still in the CPU's caches
_QUEUED = 128  # frames the caller holds (about 8,000 lines) before it stops reading the pipe
_PIPE_SIZE = 1 << 20
_FRAME = struct.Struct("!QB")  # payload length, kind
_PICKLE, _MARSHAL_LINES = 0, 1
_ROOT = Path(__file__).resolve().parents[1]

_LINE_FIELDS = tuple(f.name for f in fields(StatementLine))
_STATEMENT_FIELDS = tuple(f.name for f in fields(Statement) if f.name != "lines")
_line_tuple = attrgetter(*_LINE_FIELDS)
_statement_tuple = attrgetter(*_STATEMENT_FIELDS)
# The three fields a marshal batch carries in another form (see the module docstring).
assert _LINE_FIELDS[:4] == ("booking_date", "amount", "currency", "value_date")

# The child reads (parser, path) from its stdin and answers on its stdout.
_CHILD = "import sys; sys.path.insert(0, sys.argv[1]); from parsers.worker import _child_main; _child_main()"


class ParserCrashed(RuntimeError):
    """The parser failed in the worker in an unexpected way (the child's traceback is in ``__notes__``)."""


def parse_in_worker(parser: Parser, path: Path) -> Iterator[Statement]:
    """``parser.parse(path)``, run in a child process; see the module docstring.

    Raises ``OSError`` when no process can be started and ``pickle.PicklingError``
    (or ``TypeError``) for a parser that cannot be sent to one.
    """
    return _Receiver(parser, Path(path))


class _Channel:
    """The child process, its pipe and the thread that reads the pipe into a bounded queue.

    Apart from the receiver, so that the thread holds no reference to the receiver: a
    receiver the caller drops is collected, and its ``close`` stops all this.
    """

    def __init__(self, job: bytes) -> None:
        # What the child prints itself (Python's own last words, should it die before it can
        # answer) goes to a file, shown only in the error then: never on the user's terminal.
        self.stderr = tempfile.TemporaryFile()
        self.proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(_ROOT)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, close_fds=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.pipe: IO[bytes] = self.proc.stdout
        if fcntl is not None and hasattr(fcntl, "F_SETPIPE_SZ"):
            try:
                fcntl.fcntl(self.pipe.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
            except OSError:
                pass  # above /proc/sys/fs/pipe-max-size: the default pipe works too
        self.frames: queue.Queue[tuple[int, bytes] | None] = queue.Queue(_QUEUED)
        self.stopping = False
        self.reader = threading.Thread(target=_read_frames, args=(self,), name="recon-parse-reader", daemon=True)
        try:
            self.proc.stdin.write(job)
            self.proc.stdin.close()
            self.reader.start()
        except BaseException:
            self.stop()
            raise

    def put(self, frame: tuple[int, bytes] | None) -> bool:
        """Queue a frame for the caller; False when the caller gave up meanwhile."""
        while not self.stopping:
            try:
                self.frames.put(frame, timeout=0.2)
                return True
            except queue.Full:
                continue  # the caller is busy; look again whether it gave up
        return False

    def stop(self) -> None:
        """Kill the child if it still runs, end the reader thread, close the pipe (safe to call twice)."""
        proc = self.proc
        if proc is None:
            return
        self.proc = None
        self.stopping = True
        if proc.poll() is None:
            proc.kill()  # the pipe ends, and with it the reader thread's read
        if self.reader.is_alive() and self.reader is not threading.current_thread():
            self.reader.join()  # (a receiver collected by the reader thread itself cannot wait for it)
        self.pipe.close()
        proc.wait()
        self.stderr.close()

    def last_words(self) -> str:
        """The end of what the child wrote to its stderr (before ``stop``)."""
        self.stderr.seek(0)
        return self.stderr.read()[-2000:].decode("utf-8", errors="replace").strip()


def _read_frames(channel: _Channel) -> None:
    """The reader thread: frames from the pipe into the queue, then None for the end of the stream."""
    pipe, size = channel.pipe, _FRAME.size
    while not channel.stopping:
        header = pipe.read(size)
        if len(header) < size:
            break
        length, kind = _FRAME.unpack(header)
        payload = pipe.read(length)
        if len(payload) < length or not channel.put((kind, payload)):
            break
    channel.put(None)


class _Receiver:
    """The caller's side: statements whose lines stream from the child's pipe."""

    def __init__(self, parser: Parser, path: Path) -> None:
        job = pickle.dumps((parser, str(path)), protocol=pickle.HIGHEST_PROTOCOL)
        self._channel = _Channel(job)
        self._failure: BaseException | None = None
        self._statements = self._run()

    def __iter__(self) -> _Receiver:
        return self

    def __next__(self) -> Statement:
        return next(self._statements)

    def __del__(self) -> None:
        self.close()

    def close(self) -> None:
        """Stop the child if it still runs and release the pipe (safe to call more than once)."""
        statements = getattr(self, "_statements", None)
        if statements is not None:
            statements.close()
        channel = getattr(self, "_channel", None)
        if channel is not None:
            channel.stop()

    def _message(self) -> tuple[Any, ...]:
        if self._channel.proc is None:  # stopped: after an error, or closed
            raise self._failure or ParserCrashed("the parse was closed")
        frame = self._channel.frames.get()
        if frame is None:
            code = self._channel.proc.wait()
            raise self._failed(("crashed", f"the parsing process ended without an answer (exit status {code})",
                                self._channel.last_words()))
        kind, payload = frame
        if kind == _MARSHAL_LINES:
            return ("mlines", payload)
        return pickle.loads(payload)  # noqa: S301 - our own child's output

    def _run(self) -> Iterator[Statement]:
        try:
            while True:
                message = self._message()
                kind = message[0]
                if kind == "statement":
                    statement = Statement(**dict(zip(_STATEMENT_FIELDS, message[1], strict=True)))
                    lines = _Lines(self, statement)
                    statement.lines = lines
                    yield statement
                    lines.finish()
                elif kind == "done":
                    return
                else:
                    raise self._failed(message)
        finally:
            self._channel.stop()

    def _failed(self, message: tuple[Any, ...]) -> BaseException:
        """The error the child reported, to raise once it has ended (it stops after any error), and again if asked."""
        self._channel.stop()
        self._failure = _error(message)
        return self._failure


class _Lines:
    """One statement's lines as they arrive; when they end, the statement's final fields are set."""

    def __init__(self, receiver: _Receiver, statement: Statement) -> None:
        self._receiver = receiver
        self._statement = statement
        self._lines = self._read()
        self._rest: list[StatementLine] | None = None

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> StatementLine:
        if self._rest is None:
            return next(self._lines)
        if self._rest:
            return self._rest.pop()
        raise StopIteration

    def finish(self) -> None:
        """Read what the caller left unread (it may still ask for it), so that the next statement can come."""
        if self._rest is None:
            self._rest = list(self._lines)
            self._rest.reverse()

    def _read(self) -> Iterator[StatementLine]:
        receiver = self._receiver
        make = StatementLine
        fromordinal = date.fromordinal
        while True:
            message = receiver._message()
            kind = message[0]
            if kind == "mlines":
                for booked, amount, currency, value_date, *rest in marshal.loads(message[1]):
                    yield make(fromordinal(booked), Decimal(amount), currency,
                               None if value_date is None else fromordinal(value_date), *rest)
            elif kind == "lines":
                for values in message[1]:
                    yield make(*values)
            elif kind == "end":
                for name, value in zip(_STATEMENT_FIELDS, message[1], strict=True):
                    setattr(self._statement, name, value)
                return
            else:
                raise receiver._failed(message)


def _error(message: tuple[Any, ...]) -> BaseException:
    """The exception for an error message from the child."""
    kind = message[0]
    if kind == "error":
        return ParseError(message[1], message[2])
    if kind == "oserror":
        return OSError(message[1], message[2], message[3])
    if kind == "failed":
        error = ParserCrashed(f"{message[1]}: {message[2]}")
        error.add_note(f"in the parsing process:\n{message[3]}")
        return error
    if kind == "crashed":
        error = ParserCrashed(message[1])
        if message[2]:
            error.add_note(f"the parsing process said:\n{message[2]}")
        return error
    return ParserCrashed(f"unexpected message {kind!r} from the parsing process")


# -- the child ----------------------------------------------------------------


def _child_main() -> None:
    """Parse the job on stdin, answer on stdout (a copy of it: stdout itself then points at /dev/null)."""
    # Ctrl-C reaches the whole process group: the parent decides, and stops this process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    # A parse allocates millions of short-lived objects and builds no cycles worth chasing:
    # collecting the youngest generation every 700 allocations only costs time here.
    gc.set_threshold(100_000, 50, 100)
    final: tuple[Any, ...] = ("done",)
    try:
        parser, path = pickle.loads(sys.stdin.buffer.read())  # noqa: S301 - written by our parent
        _produce(parser, Path(path), lambda kind, payload: _write(out, kind, payload))
    except BrokenPipeError:
        return  # the parent stopped listening: nobody to tell
    except ParseError as exc:
        final = ("error", exc.message, exc.line)
    except OSError as exc:
        final = ("oserror", exc.errno, exc.strerror or str(exc), exc.filename)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which decides
        final = ("failed", type(exc).__name__, str(exc), "".join(traceback.format_exception(exc)))
    try:
        _write(out, _PICKLE, pickle.dumps(final, protocol=pickle.HIGHEST_PROTOCOL))
    except BrokenPipeError:
        pass


def _write(fd: int, kind: int, payload: bytes) -> None:
    for part in (_FRAME.pack(len(payload), kind), payload):
        data = memoryview(part)
        while data:
            data = data[os.write(fd, data):]


def _produce(parser: Parser, path: Path, send: Any) -> None:
    def message(*values: Any) -> None:
        send(_PICKLE, pickle.dumps(values, protocol=pickle.HIGHEST_PROTOCOL))

    for statement in parser.parse(path):
        message("statement", _statement_tuple(statement))
        batch: list[tuple[Any, ...]] = []
        try:
            for line in statement.lines:
                batch.append(_line_tuple(line))
                if len(batch) >= BATCH:
                    send(*_lines_frame(batch))
                    batch = []
        finally:
            if batch:  # the lines read before a parse error are answered too, as in process
                send(*_lines_frame(batch))
        message("end", _statement_tuple(statement))


def _lines_frame(batch: list[tuple[Any, ...]]) -> tuple[int, bytes]:
    """A batch as marshal data when every value comes back from it exact, else as a pickled message."""
    encoded = []
    append = encoded.append
    for booked, amount, currency, value_date, *rest in batch:
        if type(booked) is not date or type(amount) is not Decimal or not (value_date is None or type(value_date) is date):
            break
        append((booked.toordinal(), str(amount), currency, None if value_date is None else value_date.toordinal(),
                *rest))
    else:
        try:
            # marshal refuses what it could not give back as it was (a str subclass, say): pickle then.
            return _MARSHAL_LINES, marshal.dumps(encoded, 0)
        except ValueError:
            pass
    return _PICKLE, pickle.dumps(("lines", batch), protocol=pickle.HIGHEST_PROTOCOL)
