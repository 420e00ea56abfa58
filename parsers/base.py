"""The protocol every statement parser answers, and the records it returns.

A format is one module in ``parsers/`` with one class that answers two
questions (after beangulp's importer protocol):

* ``detect(head: bytes) -> bool``: does this content look like mine?  ``head``
  is the first 64 KiB of the file (fewer for a small file).  Detection reads the
  content, never the file name.
* ``parse(path: Path) -> Iterator[Statement]``: read the file into normalised
  statements.  Raise :class:`ParseError` (with the 1-based line number where
  known) when the file cannot be read right; the import job then rejects the
  whole file and stores nothing of it.

Parsers never touch the database and never deduplicate: that belongs to the
import job (``jobs/importer.py``).

A parser whose lines come while the file is still being read (not after the
whole file was read) may say so with a class attribute ``streams = True``: the
import job then reads a large file of it in a second process while it writes
the lines already read (``parsers/worker.py``).  Without it, or ``False``, the
import job parses in its own process, where the parse would otherwise only be
moved, not overlapped.

Amounts are signed :class:`~decimal.Decimal` (credit to our account positive,
debit negative), never float.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable


class ParseError(Exception):
    """The file cannot be read right.  ``line`` is 1-based where known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass(slots=True)
class Balance:
    """A booked balance: signed amount on a date."""

    amount: Decimal
    date: date | None = None
    currency: str | None = None


@dataclass(slots=True)
class StatementLine:
    """One bank transaction as the bank wrote it, normalised.

    ``bank_reference`` is the bank's own id of the entry as the contract
    defines it (OFX ``FITID``; camt ``Ntry/AcctSvcrRef``, else
    ``TxDtls/Refs/AcctSvcrRef``, else ``NtryRef``; MT940 ``:61:`` bank reference
    after ``//``, else the customer reference; CSV the profile's reference
    column).  It may be empty, ``NONREF`` or repeated: the import job never
    trusts it alone.
    """

    booking_date: date
    amount: Decimal
    currency: str | None = None
    value_date: date | None = None
    bank_reference: str | None = None
    counterparty_name: str | None = None
    counterparty_account: str | None = None
    counterparty_bic: str | None = None
    ultimate_debtor: str | None = None
    remittance: str | None = None
    creditor_reference: str | None = None
    end_to_end_id: str | None = None
    bank_code: str | None = None
    raw: str = ""
    source_line: int | None = None


@dataclass(slots=True)
class Statement:
    """One statement (or report / notification) for one account.

    ``lines`` may be a list or a lazy iterator (streaming formats); the import
    job iterates it exactly once and reads ``opening``/``closing``/``warnings``
    only after it has consumed the lines, so a streaming parser may fill them
    in while it goes.
    """

    account: str
    currency: str | None = None
    statement_id: str | None = None
    sequence: str | None = None
    opening: Balance | None = None
    closing: Balance | None = None
    lines: Iterable[StatementLine] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    kind: str | None = None  # e.g. "camt.053", "mt942"; defaults to the parser's name


@runtime_checkable
class Parser(Protocol):
    """What every format module's parser class provides."""

    name: ClassVar[str]

    def detect(self, head: bytes) -> bool: ...

    def parse(self, path: Path) -> Iterator[Statement]: ...
