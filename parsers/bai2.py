"""BAI2 / BTRS cash management balance reports (US banks).

The standard: BAI "Cash Management Balance Reporting Specifications Version 2"
(1987), and its successor ANSI X9.121 "Balance and Transaction Reporting
Standard" (BTRS, version 3).  A file is a tree of comma-separated records,
each ending with ``/``::

    01 file header  (sender, receiver, creation date, file id, ..., version 2 or 3)
      02 group header  (ultimate receiver, originator, status, as-of date, currency)
        03 account identifier  (account number, currency, then repeated
           type code, amount, item count, funds type: the balances (010 opening
           ledger, 015 closing ledger, ...) and activity summaries)
          16 transaction detail  (type code, amount, funds type, bank reference,
             customer reference, text)
          88 continuation of the record before it
        49 account trailer  (control total, number of records)
      98 group trailer  (control total, number of accounts, number of records)
    99 file trailer  (control total, number of groups, number of records)

One statement per ``03`` account section, one line per ``16`` record.

What real files do, and what this reader does about it:

* amounts are integers in minor units without a decimal point (``1234`` is
  12.34 USD); the number of decimals follows the currency (``JPY`` has none);
* detail amounts carry no sign: the type code says the direction (Appendix A):
  100-399, 720-728 and 920-959 are credits; 400-699, 760 and 960-999 are debits.
  ``890`` ("contains non-monetary information") is not a transaction: it is
  skipped with a warning.  Any other code on a ``16`` (account status codes,
  unassigned loan codes) has no direction and the file is refused rather than
  guessed;
* the funds type decides how many fields follow it (``S``: three availability
  amounts, ``V``: value date and time, ``D``: a count and that many day/amount
  pairs), so the bank and customer references are found by counting, not by
  position;
* the text of a ``16`` is the rest of the record and may hold commas and
  slashes (``AB/GS/RPFILERP0001/RPBA0001``, ``08/18/23 Invoice``); ``88``
  records continue it;
* records are split on lines *and* on ``/``: several records may share one
  line (``01,.../   02,.../``) and a whole file may be one line.  A ``/`` only
  ends a record when the next record's code follows it, so slashes inside text
  survive; a line that starts with no record code continues the text before it;
* a 16's free text may run over the end of the line without an ``88``; a ``88``
  with a colon instead of a comma (``88:EREF: ...``) is read as the ``88`` it means;
* Goldman-Sachs-style ``88`` tags (``EREF:``, ``DBNM:``, ``CRNM:``, ``DACT:``,
  ``CACT:``, ``DBIC:``, ``CBIC:``) fill the end-to-end id and the
  counterparty; the text keeps them too.
* trailer counts and control totals are checked; a mismatch is a warning on
  the statement (anonymised samples rarely add up), a missing trailer or a
  record out of place refuses the file.

The booking date of every line is the group's as-of date; a ``V`` funds type's
date is the value date.  ``bank_reference`` is the bank reference field; the
customer reference is kept in the remittance text and in ``raw``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

from parsers.base import Balance, ParseError, Statement, StatementLine
from parsers.encoding import decode_bytes

RAW_LIMIT = 4000

# ISO 4217 minor units where they are not 2 (BAI2 amounts carry implied decimals).
_DECIMALS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
                     "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}
_CODES = frozenset({"01", "02", "03", "16", "49", "88", "98", "99"})
# Where a record may start after a "/" on the same line: the code and enough of
# its first fields that text such as "INV 2023/16, ..." is not taken for one.
_RECORD_START = re.compile(
    r"(?:01,[^,/]*,[^,/]*,\d{6},"
    r"|02,[^,/]*,[^,/]*,\d*,\d{6},"
    r"|03,[^,/]*,[A-Za-z]{0,3},"
    r"|16,\d{3},"
    r"|49,[+-]?\d*,\d*"
    r"|88,"
    r"|98,[+-]?\d*,\d*,\d*"
    r"|99,[+-]?\d*,\d*,\d*)"
)
_SPLIT = re.compile(r"/[ \t]*(?=" + _RECORD_START.pattern + ")")
_LINE_START = re.compile(r"\s*(\d\d)[,:]")
_AMOUNT = re.compile(r"[+-]?\d+\Z")
_TAG = re.compile(r"([A-Z]{4}):\s?(.*)\Z")
_DETECT_STRONG = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*01,[^,\r\n/]*,[^,\r\n/]*,\d{6},")
_DETECT_WEAK = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*\d\d,[^\r\n]*/[ \t]*(?:\r?\n|\Z)")


def _direction(type_code: str) -> int:
    """+1 credit, -1 debit, 0 for codes that are no transaction (Appendix A ranges)."""
    if not (len(type_code) == 3 and type_code.isdigit()):
        return 0
    n = int(type_code)
    if 100 <= n <= 399 or 720 <= n <= 728 or 920 <= n <= 959:
        return 1
    if 400 <= n <= 699 or n == 760 or 960 <= n <= 999:
        return -1
    return 0


@dataclass(slots=True)
class _Record:
    """One logical record: its code, its content (88s merged in) and where it began."""

    code: str
    content: str
    line: int
    raw: list[str] = field(default_factory=list)
    physical: int = 1  # records it was made of (the 16 or 03 and its 88s), for the trailer counts


def _physical_records(text: str) -> Iterator[tuple[str, int, bool]]:
    """(record text, line number, starts a record) for every record or continuation fragment."""
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("88:"):
            # A continuation typed with a colon for the comma (seen in a bank's file): still a record.
            stripped = "88," + stripped[3:]
        match = _LINE_START.match(stripped)
        # Two digits and a comma start a record (an unknown code is an error, not text); anything
        # else on a line of its own continues the text of the 16 before it.
        starts = match is not None and stripped[2:3] == ","
        pieces = _SPLIT.split(stripped)
        for index, piece in enumerate(pieces):
            yield piece, number, starts or index > 0


def _strip_terminator(piece: str) -> str:
    piece = piece.rstrip()
    return piece[:-1] if piece.endswith("/") else piece


class _Reader:
    """Reads the records of one file into statements; everything is checked before anything is returned."""

    def __init__(self) -> None:
        self.statements: list[Statement] = []
        self._file_id = ""
        self._version = ""

    def read(self, text: str) -> list[Statement]:
        records = self._records(text)
        if not records:
            raise ParseError("no BAI2 records; expected a 01 file header")
        first = records[0]
        if first.code != "01":
            raise ParseError(f"a BAI2 file begins with a 01 file header record; found record {first.code!r}",
                             first.line)
        i = 0
        while i < len(records):
            i = self._file(records, i)
        return self.statements

    # -- records ------------------------------------------------------------

    def _records(self, text: str) -> list[_Record]:
        records: list[_Record] = []
        for piece, line, starts in _physical_records(text):
            if not starts:
                if not records:
                    raise ParseError(f"a BAI2 file begins with a 01 file header record; found {piece[:20]!r}", line)
                previous = records[-1]
                if previous.code != "16":
                    raise ParseError(
                        f"expected a BAI2 record (01, 02, 03, 16, 49, 88, 98 or 99) and found {piece[:30]!r}", line
                    )
                # Text of a 16 that ran over the end of the line (or an "88:" typed with a colon).
                previous.content = f"{_strip_terminator(previous.content)} {_strip_terminator(piece)}"
                previous.raw.append(piece)
                continue
            code = piece[:2]
            if not records and code != "01":
                raise ParseError(f"a BAI2 file begins with a 01 file header record; found record {code!r}", line)
            if code not in _CODES:
                raise ParseError(f"unknown BAI2 record code {code!r}; expected 01, 02, 03, 16, 49, 88, 98 or 99", line)
            if code == "88":
                if not records:
                    raise ParseError("a 88 continuation record before any record", line)
                previous = records[-1]
                previous.content = _continue(previous, _strip_terminator(piece)[3:])
                previous.raw.append(piece)
                previous.physical += 1
                continue
            records.append(_Record(code, _strip_terminator(piece), line, [piece]))
        return records

    # -- structure ----------------------------------------------------------

    def _file(self, records: list[_Record], i: int) -> int:
        header = records[i]
        if header.code != "01":
            raise ParseError(f"expected a 01 file header after the 99 file trailer, found record {header.code}",
                             header.line)
        fields = header.content.split(",")
        self._file_id = fields[5].strip() if len(fields) > 5 else ""
        self._version = fields[8].strip() if len(fields) > 8 else ""
        count = header.physical
        groups = 0
        group_totals = 0
        file_statements_start = len(self.statements)
        i += 1
        while True:
            if i >= len(records):
                raise ParseError("the file ends without a 99 file trailer (truncated?)", records[-1].line)
            record = records[i]
            if record.code == "02":
                i, group_count, group_total = self._group(records, i)
                count += group_count
                groups += 1
                group_totals += group_total
                continue
            if record.code == "99":
                count += record.physical
                fields = record.content.split(",")
                total, n_groups, n_records = (_int_field(fields, k, record, "99") for k in (1, 2, 3))
                problems = []
                if total is not None and total != group_totals:
                    problems.append(f"control total {total} but the groups add up to {group_totals}")
                if n_groups is not None and n_groups != groups:
                    problems.append(f"{n_groups} groups declared, {groups} found")
                if n_records is not None and n_records != count:
                    problems.append(f"{n_records} records declared, {count} found")
                self._warn_last(file_statements_start, record, "99 file trailer", problems)
                return i + 1
            raise ParseError(f"expected a 02 group header or the 99 file trailer, found record {record.code}",
                             record.line)

    def _group(self, records: list[_Record], i: int) -> tuple[int, int, int]:
        header = records[i]
        fields = header.content.split(",")
        as_of_text = fields[4].strip() if len(fields) > 4 else ""
        as_of = _yymmdd(as_of_text, header, "as-of date")
        if as_of is None:
            raise ParseError("the 02 group header has no as-of date; expected YYMMDD in its fifth field", header.line)
        currency = (fields[6].strip().upper() if len(fields) > 6 else "") or "USD"
        count = header.physical
        accounts = 0
        account_totals = 0
        start = len(self.statements)
        i += 1
        while True:
            if i >= len(records):
                raise ParseError("the file ends inside a group; expected a 98 group trailer", records[-1].line)
            record = records[i]
            if record.code == "03":
                i, n, total = self._account(records, i, as_of, currency)
                count += n
                accounts += 1
                account_totals += total
                continue
            if record.code == "98":
                count += record.physical
                fields = record.content.split(",")
                total, n_accounts, n_records = (_int_field(fields, k, record, "98") for k in (1, 2, 3))
                problems = []
                if total is not None and total != account_totals:
                    problems.append(f"control total {total} but the accounts add up to {account_totals}")
                if n_accounts is not None and n_accounts != accounts:
                    problems.append(f"{n_accounts} accounts declared, {accounts} found")
                if n_records is not None and n_records != count:
                    problems.append(f"{n_records} records declared, {count} found")
                self._warn_last(start, record, "98 group trailer", problems)
                declared = total if total is not None else account_totals
                return i + 1, count, declared
            raise ParseError(f"expected a 03 account identifier or the 98 group trailer, found record {record.code}",
                             record.line)

    def _account(self, records: list[_Record], i: int, as_of: date, group_currency: str) -> tuple[int, int, int]:
        header = records[i]
        fields = header.content.split(",")
        account = fields[1].strip() if len(fields) > 1 else ""
        if not account:
            raise ParseError("the 03 account identifier has no account number", header.line)
        currency = (fields[2].strip().upper() if len(fields) > 2 else "") or group_currency
        decimals = _DECIMALS.get(currency, 2)
        balances, control = _summaries(fields, header, decimals)
        count = header.physical
        statement = Statement(
            account=account,
            currency=currency,
            statement_id=self._file_id or None,
            sequence=as_of.isoformat(),
            kind="btrs" if self._version == "3" else "bai2",
        )
        if "010" in balances:
            statement.opening = Balance(balances["010"], as_of, currency)
        if "015" in balances:
            statement.closing = Balance(balances["015"], as_of, currency)
        lines: list[StatementLine] = []
        skipped = 0
        i += 1
        while True:
            if i >= len(records):
                raise ParseError("the file ends inside an account; expected a 49 account trailer", records[-1].line)
            record = records[i]
            if record.code == "16":
                line, amount = _detail(record, as_of, currency, decimals)
                control += amount
                count += record.physical
                if line is None:
                    skipped += 1
                else:
                    lines.append(line)
                i += 1
                continue
            if record.code == "49":
                count += record.physical
                fields = record.content.split(",")
                total, n_records = (_int_field(fields, k, record, "49") for k in (1, 2))
                if skipped:
                    statement.warnings.append(
                        f"{skipped} type 890 record{'s' if skipped > 1 else ''} (non-monetary information) not imported"
                    )
                if total is not None and total != control:
                    statement.warnings.append(
                        f"line {record.line}: 49 account trailer: control total {total} but the account's amounts "
                        f"add up to {control}"
                    )
                if n_records is not None and n_records != count:
                    statement.warnings.append(
                        f"line {record.line}: 49 account trailer: {n_records} records declared, {count} found"
                    )
                statement.lines = lines
                self.statements.append(statement)
                return i + 1, count, total if total is not None else control
            raise ParseError(f"expected a 16 transaction detail or the 49 account trailer, found record {record.code}",
                             record.line)

    def _warn_last(self, start: int, record: _Record, what: str, problems: list[str]) -> None:
        """Group and file trailer findings go on the last statement they cover."""
        if problems and len(self.statements) > start:
            self.statements[-1].warnings.append(f"line {record.line}: {what}: " + "; ".join(problems))


def _continue(previous: _Record, more: str) -> str:
    """Append a 88's content to the record it continues.

    A 16 whose text field has begun takes the 88 as more text (commas kept);
    any other record, or a 16 cut before its text, takes it as more fields.
    """
    if previous.code == "16" and _text_started(previous.content):
        return f"{previous.content} {more}"
    return f"{previous.content},{more}"


def _text_started(content: str) -> bool:
    fields = content.split(",")
    try:
        return len(fields) > _text_index(fields)
    except (ValueError, IndexError):
        return False


def _text_index(fields: list[str]) -> int:
    """Index of the text field of a 16 (code, type, amount, funds type and its extras, bank ref, customer ref)."""
    return _after_funds(fields, 3) + 2


def _after_funds(fields: list[str], i: int) -> int:
    """Index of the field after the funds type at ``i`` and its variable extras."""
    funds = fields[i].strip().upper() if i < len(fields) else ""
    i += 1
    if funds in ("", "0", "1", "2", "Z"):
        return i
    if funds == "V":
        return i + 2
    if funds == "S":
        return i + 3
    if funds == "D":
        n = int(fields[i].strip() or "0")
        return i + 1 + 2 * n
    raise ValueError(funds)


def _summaries(fields: list[str], record: _Record, decimals: int) -> tuple[dict[str, Decimal], int]:
    """The 03's balances by type code (signed, in units) and the sum of all its amounts (for the 49 check)."""
    balances: dict[str, Decimal] = {}
    control = 0
    i = 3
    while i < len(fields):
        type_code = fields[i].strip()
        amount_text = fields[i + 1].strip() if i + 1 < len(fields) else ""
        if not type_code and not amount_text and all(not f.strip() for f in fields[i:]):
            break
        if amount_text:
            if not _AMOUNT.match(amount_text):
                raise ParseError(f"03 amount {amount_text!r} for type code {type_code} is not a whole number "
                                 "(BAI2 amounts are in cents, without a decimal point)", record.line)
            value = int(amount_text)
            control += value
            if type_code not in balances:
                balances[type_code] = Decimal(value).scaleb(-decimals)
        try:
            i = _after_funds(fields, i + 3)
        except (ValueError, IndexError):
            raise ParseError(f"03 funds type {fields[i + 3].strip()!r} for type code {type_code} is not one of "
                             "0, 1, 2, S, V, D, Z", record.line) from None
    return balances, control


def _detail(record: _Record, as_of: date, currency: str, decimals: int) -> tuple[StatementLine | None, int]:
    """A 16 as a statement line (None for 890 memo records), and its amount as written."""
    fields = record.content.split(",")
    type_code = fields[1].strip() if len(fields) > 1 else ""
    amount_text = fields[2].strip() if len(fields) > 2 else ""
    try:
        text_at = _text_index(fields)
    except (ValueError, IndexError):
        funds = fields[3].strip() if len(fields) > 3 else ""
        raise ParseError(f"16 funds type {funds!r} is not one of 0, 1, 2, S, V, D, Z (or its fields are missing)",
                         record.line) from None
    if type_code == "890":
        value = int(amount_text) if _AMOUNT.match(amount_text) else 0
        return None, value
    direction = _direction(type_code)
    if direction == 0:
        raise ParseError(f"16 type code {type_code!r} is no credit or debit transaction; expected 100-399 or "
                         "920-959 (credits), 400-699 or 960-999 (debits)", record.line)
    if not amount_text or not amount_text.isdigit():
        raise ParseError(f"16 amount {amount_text!r} is not an unsigned whole number "
                         "(BAI2 amounts are in cents; the type code gives the sign)", record.line)
    value = int(amount_text)
    value_date = None
    if len(fields) > 3 and fields[3].strip().upper() == "V":
        value_date = _yymmdd(fields[4].strip() if len(fields) > 4 else "", record, "value date")
    bank_ref = fields[text_at - 2].strip() if len(fields) > text_at - 2 else ""
    customer_ref = fields[text_at - 1].strip() if len(fields) > text_at - 1 else ""
    text = " ".join(",".join(fields[text_at:]).split())
    tags = _tags(record.raw[1:])
    remittance = text
    if customer_ref and customer_ref not in text:
        remittance = f"{text} {customer_ref}".strip()
    credit = direction > 0
    return StatementLine(
        booking_date=as_of,
        amount=direction * Decimal(value).scaleb(-decimals),
        currency=currency,
        value_date=value_date,
        bank_reference=bank_ref or None,
        counterparty_name=tags.get("DBNM" if credit else "CRNM"),
        counterparty_account=tags.get("DACT" if credit else "CACT"),
        counterparty_bic=tags.get("DBIC" if credit else "CBIC"),
        remittance=remittance or None,
        end_to_end_id=tags.get("EREF"),
        bank_code=type_code,
        raw="\n".join(record.raw)[:RAW_LIMIT],
        source_line=record.line,
    ), value


def _tags(continuations: list[str]) -> dict[str, str]:
    """``88,EREF: ...`` style key/value continuations, first value of each key."""
    tags: dict[str, str] = {}
    for piece in continuations:
        body = _strip_terminator(piece)
        body = body[3:] if body[:3] in ("88,", "88:") else body
        match = _TAG.match(body.strip())
        if match and match.group(2).strip() and match.group(1) not in tags:
            tags[match.group(1)] = match.group(2).strip()
    return tags


def _yymmdd(text: str, record: _Record, what: str) -> date | None:
    if not text:
        return None
    if len(text) != 6 or not text.isdigit():
        raise ParseError(f"{record.code} {what} {text!r} is not a date; expected YYMMDD", record.line)
    year = int(text[:2])
    try:
        return date(2000 + year if year < 70 else 1900 + year, int(text[2:4]), int(text[4:6]))
    except ValueError:
        raise ParseError(f"{record.code} {what} {text!r} is not a date; expected YYMMDD", record.line) from None


def _int_field(fields: list[str], k: int, record: _Record, code: str) -> int | None:
    text = fields[k].strip() if len(fields) > k else ""
    if not text:
        return None
    if not _AMOUNT.match(text):
        raise ParseError(f"{code} trailer field {k + 1} {text!r} is not a whole number", record.line)
    return int(text)


class BAI2Parser:
    """BAI2 and BTRS (v3) files; see the module docstring."""

    name: ClassVar[str] = "bai2"

    def detect(self, head: bytes) -> bool:
        """True when the content starts like a BAI2 file: a 01 header, or a numbered record ending in '/'."""
        if _DETECT_STRONG.match(head):
            return True
        match = _DETECT_WEAK.match(head)
        return match is not None and match.group(0).count(b",") >= 8

    def parse(self, path: Path) -> Iterator[Statement]:
        """Read the whole file (BAI2 files are small), check its structure and trailers, then yield."""
        text, _encoding = decode_bytes(Path(path).read_bytes())
        yield from _Reader().read(text)
