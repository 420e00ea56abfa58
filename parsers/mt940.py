"""SWIFT MT940 (customer statement) and MT942 (interim transaction report).

An MT940 file is one or more messages; each message is a statement made of
tagged fields, one tag at the start of a line, continuation lines below it:

    :20:  statement reference        :25:  account           :28C: number/sequence
    :60F: / :60M: opening balance     :61:  statement line    :86:  its details
    :62F: / :62M: closing balance     :64:  :65: available balances
    MT942 adds :34F: floor limit, :13D: date-time, :90D: / :90C: debit/credit totals
    and usually has no :60F: / :62F: at all.

A statement line ``:61:`` is ``YYMMDD[MMDD](C|D|RC|RD)[funds code]amount TYPE
customer-ref[//bank-ref]`` with optional supplementary details on the next line;
``RC`` (reversal of a credit) takes money out, ``RD`` puts it back.  The
``:86:`` after it is split into fields by :mod:`parsers.mt940_fields`.

Real files deviate (all handled here, each with a regression test in
``tests/parsers/test_mt940.py``): SWIFT ``{1:}{2:}{4:`` envelopes and bank
header lines (``ABNANL2A`` / ``940`` / ``:940:``) before ``:20:``; several
statements in one file; a ``-`` alone on a line that ends a message, or that
is just text inside a wrapped ``:86:``; a wrapped or blank ``:28C:``; ``.`` as
decimal mark; ``null`` or a letter O for a balance amount; a balance without
currency; German ``CR``/``DR`` (mark plus funds code ``R``); a time of day
``13:12:11`` wrapped so that ``:12:11`` starts a line; Latin-1 or cp850 bytes.

Why not through ``mt-940`` (5.1.1, installed): it is about five times slower
(5,300 against 27,000 lines/s, measured side by side on a 100,000-line file;
its ``:86:`` splitter walks the text a character at a time), far below what
the import must do; and around the quirks above it silently misreads
(a balance without currency gives a wrong amount, ``-`` lines inside ``:86:``
are dropped, a byte-order mark loses the first ``:20:`` unless
``Options.strip_bom``, ``RC`` is positive unless ``Options.reversal_sign``,
``:86:`` is cut at 593 characters unless ``Options.unbounded_details``, the
``?31`` account is glued onto the name unless ``Options.applicant_iban``,
30 February is quietly moved to the 29th, undecodable bytes become cp852).
So this module tokenises the file itself; the tests use ``mt-940`` with
``Options.all()`` as an independent second reading of the corpus amounts.

Impossible dates (``160230``) reject the file with the line, rather than
guessing which day the bank meant.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import ClassVar

from stdnum import iban as _iban

from parsers.base import Balance, ParseError, Statement, StatementLine
from parsers.encoding import decode_bytes
from parsers.mt940_fields import Details, join_wrapped, parse_details, parse_non_swift

__all__ = ["MT940Parser", "normalise_account", "parse_text"]

_KNOWN_TAGS = frozenset(
    {"13", "13D", "20", "21", "25", "25P", "28", "28C", "34F", "60", "60F", "60M", "61",
     "62", "62F", "62M", "64", "65", "86", "90D", "90C", "NS"}
)  # fmt: skip
_TAG = re.compile(r":(\d\d[A-Z]?|NS):")
# Every line that may start or end a field: a tag, a lone ':' (Sparkasse wraps ':' / '86:...'),
# and lines starting with '-', '{' or '}' (message ends and SWIFT envelopes).  Anchored on the
# line break before the line rather than on '^': the regex engine then jumps from one line break
# to the next instead of trying every position (three times faster); parse_text puts a line
# break in front of the text so that its first line has one too.
_STRUCTURE = re.compile(r"\n(?::(\d\d[A-Z]?|NS):|[-{}]|:[ \t]*(?=\n|$))")
_BARE_TAG = re.compile(r"(\d\d[A-Z]?|NS):")
_CTRL_WS = "".join(map(chr, range(33))) + "\x7f"  # blanks and control characters (SOH/ETX)
_ENVELOPE_TYPE = re.compile(r"\{2:[IO]?(\d{3})")

# :61:  value date, [entry date], mark, [funds code], amount, [type], references
_STATEMENT_LINE = re.compile(
    r"""\s*(?P<vd>\d{6})
    (?:(?P<ed>\d{4})|\ {4})?
    (?P<mark>R?[CD])
    (?P<funds>[A-Z])?
    \ ?(?P<amount>\d[\d,.]*|[,.]\d+)
    (?P<type>[A-Z][A-Z0-9 ]{3})?
    (?P<rest>.*)""",
    re.VERBOSE,
)
# Lower-case marks ('c', 'rd') are rare; a separate pattern keeps the common one fast.
_STATEMENT_LINE_ANY_CASE = re.compile(_STATEMENT_LINE.pattern, re.VERBOSE | re.IGNORECASE)
_BALANCE = re.compile(r"\s*([CD])\s?(\d{6})(.*)", re.IGNORECASE)
_SUMS = re.compile(r"\s*(\d*)([A-Z]{3})(\S+)", re.IGNORECASE)
_THREE_DECIMALS = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})
_CENT = Decimal("0.01")
_MILL = Decimal("0.001")
_IBAN_START = re.compile(r"[A-Z]{2}\d\d[A-Z0-9]{8,30}$")
_NO_DETAILS = Details()

_LINE_FIELDS = (
    "booking_date", "amount", "currency", "value_date", "bank_reference", "counterparty_name",
    "counterparty_account", "counterparty_bic", "ultimate_debtor", "remittance", "creditor_reference",
    "end_to_end_id", "bank_code", "raw", "source_line",
)  # fmt: skip
if tuple(f.name for f in dataclasses.fields(StatementLine)) != _LINE_FIELDS:  # pragma: no cover
    raise ImportError(
        "parsers.base.StatementLine changed its fields; update parsers/mt940.py (positional build)"
    )

#: A field: (tag, line number, start of its line, start of its value, end of its last line).
#: The tag is a SWIFT tag, or "-" (a message ends) / "{" (a SWIFT envelope line).
Field = tuple[str, int, int, int, int]


# --- tokenising -------------------------------------------------------------------------


def _line_at(text: str, pos: int) -> tuple[str, int]:
    """The line starting at ``pos`` and the position of its end."""
    eol = text.find("\n", pos)
    if eol < 0:
        eol = len(text)
    return text[pos:eol], eol


def _known_tag(line: str) -> str | None:
    if line[:1] == ":":
        m = _TAG.match(line)
        if m is not None and m.group(1) in _KNOWN_TAGS:
            return m.group(1)
    return None


def _is_envelope(line: str) -> bool:
    """A SWIFT block (``{1:``..``{5:``) or the ``-}`` / ``}`` that closes one."""
    first = line[:1]
    if first == "{":
        return line[2:3] == ":" and line[1:2] in "12345"
    if first == "-" or first == "}":
        mark = line.strip(_CTRL_WS)
        return mark.startswith("-}") or mark == "}" or mark.startswith("}{")
    return False


def _dash_role(text: str, pos: int) -> str:
    """What a line holding only ``-`` is, judged by what follows it (from ``pos``).

    ``end``: it ends a message (a ``:20:``, an envelope or the end of file
    follows); ``skip``: a stray ``-`` between two fields of one statement;
    ``text``: part of a wrapped field (ING wraps ``MND-EV01`` as ``MND``,
    ``-``, ``EV01``), because free lines and then a tag other than ``:20:``
    follow.
    """
    n = len(text)
    seen_text = False
    while pos < n:
        line, eol = _line_at(text, pos)
        pos = eol + 1
        if not line.strip(_CTRL_WS):
            continue
        if _is_envelope(line):
            return "end"
        tag = _known_tag(line)
        if tag is not None:
            if tag == "20":
                return "end"
            return "text" if seen_text else "skip"
        seen_text = True
    return "end"


def _fields(text: str) -> Iterator[Field]:
    """Yield the fields of the file in order, with ``-`` (end of message) and ``{`` (envelope) marks.

    A field runs from its tag to the next field: lines that start no known tag
    continue it (an unknown ``:12:`` is a wrapped time of day).  Text outside
    a message (bank headers, prose before the first ``:20:``) belongs to no
    field.  One regex finds the candidate lines; Python looks only at those.
    """
    known = _KNOWN_TAGS
    count = text.count
    cur: tuple[str, int, int, int] | None = None
    line_no = 0  # text starts with the line break parse_text put there
    counted = 0
    skip_to = 0
    for m in _STRUCTURE.finditer(text):
        p = m.start() + 1  # the line, after its line break
        if p < skip_to:
            continue
        tag = m.group(1)
        if tag is not None:
            if tag not in known:
                continue
            line_no += count("\n", counted, p)
            counted = p
            if cur is not None:
                yield (cur[0], cur[1], cur[2], cur[3], p)
            cur = (tag, line_no, p, m.end())
            continue
        first = text[p]
        line, eol = _line_at(text, p)
        if first == ":":
            m2 = _BARE_TAG.match(text, eol + 1)
            if m2 is not None and m2.group(1) in known:
                line_no += text.count("\n", counted, p)
                counted = p
                if cur is not None:
                    yield (*cur, p)
                cur = (m2.group(1), line_no, p, m2.end())
                skip_to = eol + 1
            continue
        if first == "{":
            if not (line[2:3] == ":" and line[1:2] in "12345"):
                continue
            line_no += text.count("\n", counted, p)
            counted = p
            if cur is not None:
                yield (*cur, p)
                cur = None
            yield ("{", line_no, p, p, eol)
            k = line.find("{4:")
            if k >= 0:
                # ':20:' on the envelope's own line
                rest = p + k + 3
                while rest < eol and text[rest] in " \t":
                    rest += 1
                m3 = _TAG.match(text, rest)
                if m3 is not None and m3.group(1) in known:
                    cur = (m3.group(1), line_no, rest, m3.end())
            continue
        mark = line.strip(_CTRL_WS)
        if mark == "-":
            role = _dash_role(text, eol + 1)
            if role == "text":
                continue
            line_no += text.count("\n", counted, p)
            counted = p
            if cur is not None:
                yield (*cur, p)
                cur = None
            if role == "end":
                yield ("-", line_no, p, p, eol)
            continue
        if mark.startswith("-}") or mark == "}" or mark.startswith("}{"):
            line_no += text.count("\n", counted, p)
            counted = p
            if cur is not None:
                yield (*cur, p)
                cur = None
            yield ("-", line_no, p, p, eol)
        # any other line starting with '-' is text of the current field
    if cur is not None:
        yield (*cur, len(text))


# --- values -----------------------------------------------------------------------------

_DATES: dict[str, date] = {}
_ENTRY_DATES: dict[tuple[date, str], date] = {}


def _date6(text: str, line: int, what: str) -> date:
    """YYMMDD -> date; an impossible date (30 February) rejects the file."""
    d = _DATES.get(text)
    if d is None:
        yy, mm, dd = int(text[:2]), int(text[2:4]), int(text[4:6])
        try:
            d = date(2000 + yy if yy < 80 else 1900 + yy, mm, dd)
        except ValueError:
            raise ParseError(f"{what} '{text}' is not a real date (expected YYMMDD)", line) from None
        _DATES[text] = d
    return d


def _entry_date(value_date: date, mmdd: str, line: int) -> date:
    """MMDD entry date in the year that puts it nearest the value date (Dec/Jan roll-over)."""
    key = (value_date, mmdd)
    d = _ENTRY_DATES.get(key)
    if d is None:
        month, day = int(mmdd[:2]), int(mmdd[2:])
        for year in (value_date.year, value_date.year - 1, value_date.year + 1):
            try:
                cand = date(year, month, day)
            except ValueError:
                continue
            if d is None or abs(cand - value_date) < abs(d - value_date):
                d = cand
        if d is None:
            raise ParseError(f"':61:' entry date '{mmdd}' is not a real date (expected MMDD)", line)
        _ENTRY_DATES[key] = d
    return d


_PLAIN_AMOUNT = re.compile(r"\d+(?:,\d{0,2})?$")  # the standard form: no further checks needed


def _number(text: str, currency: str | None) -> Decimal | None:
    """A SWIFT amount (``1234,56``; also ``1234.56``) as Decimal, or None when it is not one.

    Refused as ambiguous: both ``,`` and ``.``, more than one separator, three
    digits after a ``.`` (a thousands separator?), and more decimals than the
    currency has (the database keeps two; rounding would change the amount).

    >>> _number("1234,5", "EUR"), _number("1.50", "EUR"), _number("1.234", "EUR"), _number("1,005", "EUR")
    (Decimal('1234.5'), Decimal('1.50'), None, None)
    """
    if _PLAIN_AMOUNT.match(text):
        return Decimal(text.replace(",", "."))
    decimals = 0
    if "," in text:
        if "." in text or text.count(",") > 1:
            return None
        decimals = len(text) - text.index(",") - 1
        text = text.replace(",", ".")
    elif "." in text:
        decimals = len(text) - text.index(".") - 1
        if text.count(".") > 1 or decimals > 2:
            return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    if decimals > 2:
        places = _MILL if currency in _THREE_DECIMALS else _CENT
        if value != value.quantize(places):
            return None
    return value


def normalise_account(raw: str, currency: str | None = None) -> str:
    """The account a ``:25:`` names: an IBAN when there is one, else the bank's notation.

    A currency code the bank appended (``NL34RABO0142623393 EUR``,
    ``51210600/9223382012EUR``, ``.../HUF``) and a leading ``/`` are removed;
    a German ``BLZ/account`` or ``BIC/account`` keeps both parts, because the
    account number alone does not say which bank holds it.

    >>> normalise_account("NL77INGB0574908765EUR", "EUR")
    'NL77INGB0574908765'
    >>> normalise_account("51210600/9223382012EUR")
    '51210600/9223382012'
    >>> normalise_account("/DE89 3704 0044 0532 0130 00")
    'DE89370400440532013000'
    """
    value = " ".join(raw.split()).lstrip("/").strip()
    compact = value.replace(" ", "").upper()
    if _IBAN_START.match(compact) and _iban.is_valid(compact):
        return compact  # (a Seychelles IBAN ends in a currency code: check before stripping one)
    m = re.match(r"(.*?)([ /]*)([A-Z]{3})$", value)
    if m and m.group(1) and (m.group(3) == currency or m.group(2) or m.group(1)[-1].isdigit()):
        value = m.group(1)
        compact = value.replace(" ", "").upper()
        if _IBAN_START.match(compact) and _iban.is_valid(compact):
            return compact
    tail = compact.rsplit("/", 1)[-1]
    if tail != compact and _IBAN_START.match(tail) and _iban.is_valid(tail):
        return tail  # BIC/IBAN
    return value


def _looks_iban(text: str) -> bool:
    text = text.replace(" ", "").upper()
    return bool(_IBAN_START.match(text)) and _iban.is_valid(text)


def _first_line(text: str, start: int, end: int) -> str:
    eol = text.find("\n", start, end)
    return text[start : eol if eol >= 0 else end]


# --- statements -------------------------------------------------------------------------


class _Statement:
    """One statement being read; :meth:`finish` turns it into a :class:`Statement`."""

    def __init__(self, text: str, field: Field, message_type: str | None) -> None:
        self.text = text
        self.line_no = field[1]
        self.statement_id = _first_line(text, field[3], field[4]).strip() or None
        self.account_raw: str | None = None
        self.sequence: str | None = None
        self.opening: Balance | None = None
        self.closing: Balance | None = None
        self.opening_seen = self.closing_seen = False
        self.closing_line = 0
        self.lines: list[StatementLine] = []
        self.debits: list[bool] = []  # per line: D or RC (for the MT942 :90D:/:90C: check)
        self.warnings: list[str] = []
        self.kind = "mt942" if message_type == "942" else "mt940"
        self.currency: str | None = None
        self.currency_hint: str | None = None
        self.sums: list[tuple[str, int | None, Decimal | None, int]] = []
        self.pending: list[Field] | None = None
        self.attach = False  # may a :86: / :NS: still join the pending :61:?

    # fields ---------------------------------------------------------------------------

    def add_statement_line(self, field: Field) -> None:
        if self.pending is not None:
            self.flush()
        if self.closing_seen:
            self.warnings.append(
                f"line {field[1]}: ':61:' after the closing balance (line {self.closing_line}); read as part of the statement"
            )
        self.pending = [field]
        self.attach = True

    def add_information(self, field: Field) -> None:
        if self.attach:
            self.pending.append(field)  # type: ignore[union-attr]
        # else: information for the statement as a whole (ING /SUM/, Danske): not a transaction

    def add_field(self, field: Field) -> None:
        tag, line_no, _, start, end = field
        text = self.text
        if self.pending is not None:
            self.flush()
        self.attach = False
        if tag == "25" or tag == "25P":
            if self.account_raw is not None:
                raise ParseError(
                    f"a second ':25:' account in the statement that starts on line {self.line_no};"
                    " expected ':86:' or a balance here (is a ':20:' missing?)",
                    line_no,
                )
            self.account_raw = _first_line(text, start, end)
        elif tag == "28C" or tag == "28":
            # a wrapped ':28C:0000' / '0' is one number
            seq = "".join(part.strip() for part in text[start:end].split("\n"))
            self.sequence = seq or None
        elif tag in ("60F", "60M", "60"):
            if self.opening_seen:
                raise ParseError(
                    f"a second opening balance in the statement that starts on line {self.line_no};"
                    " expected ':20:' before it",
                    line_no,
                )
            self.opening_seen = True
            self.opening = self._balance(field)
            self._set_currency()
        elif tag in ("62F", "62M", "62"):
            if self.closing_seen:
                raise ParseError(
                    f"a second closing balance in the statement that starts on line {self.line_no};"
                    " expected ':20:' before it",
                    line_no,
                )
            self.closing_seen = True
            self.closing_line = line_no
            self.closing = self._balance(field)
            self._set_currency()
        elif tag == "34F":
            self.kind = "mt942"
            m = re.match(r"\s*([A-Z]{3})", text[start:end])
            if m:
                self.currency_hint = self.currency_hint or m.group(1)
                self._set_currency()
        elif tag == "13D":
            self.kind = "mt942"
        elif tag == "90D" or tag == "90C":
            self.kind = "mt942"
            m = _SUMS.match(_first_line(text, start, end))
            if m:
                currency = m.group(2).upper()
                self.currency_hint = self.currency_hint or currency
                self._set_currency()
                count = int(m.group(1)) if m.group(1) else None
                self.sums.append((tag, count, _number(m.group(3), currency), line_no))
        # :13:, :21:, :64:, :65: carry nothing the import needs

    def _set_currency(self) -> None:
        for balance in (self.opening, self.closing):
            if balance is not None and balance.currency:
                self.currency = balance.currency
                return
        self.currency = self.currency_hint

    def _balance(self, field: Field) -> Balance | None:
        tag, line_no, _, start, end = field
        text = _first_line(self.text, start, end).strip()
        m = _BALANCE.match(text)
        if m is None:
            self.warnings.append(
                f"line {line_no}: balance ':{tag}:{text[:30]}' is unreadable"
                " (expected C/D, YYMMDD, currency, amount); not used"
            )
            return None
        when = _date6(m.group(2), line_no, f"':{tag}:' balance date")
        rest = m.group(3).strip()
        currency: str | None = None
        if rest[:3].isalpha() and rest[:4].lower() != "null":
            currency, rest = rest[:3].upper(), rest[3:].strip()
        if rest.lower() in ("", "null", "none"):
            self.warnings.append(f"line {line_no}: balance ':{tag}:' has no amount ('{rest}'); not used")
            return None
        amount = _number(rest, currency)
        if amount is None and ("O" in rest or "o" in rest):
            # a letter O typed for a zero: read it as one, and say so
            amount = _number(rest.replace("O", "0").replace("o", "0"), currency)
            if amount is not None:
                self.warnings.append(
                    f"line {line_no}: balance ':{tag}:' amount '{rest}' has a letter O; read as {amount}"
                )
        if amount is None:
            self.warnings.append(f"line {line_no}: balance ':{tag}:' amount '{rest}' is unreadable; not used")
            return None
        if m.group(1) in "Dd":
            amount = -amount
        return Balance(amount=amount, date=when, currency=currency)

    # lines ----------------------------------------------------------------------------

    def flush(self) -> None:
        """Turn the pending ``:61:`` (and its ``:86:``) into a statement line."""
        fields = self.pending
        self.pending = None
        self.attach = False
        if fields is None:
            return
        text = self.text
        _, line_no, line_start, start, end = fields[0]
        eol = text.find("\n", start, end)
        if eol < 0:
            value, extra = text[start:end], []
        else:
            value = text[start:eol]
            extra = [x for x in text[eol + 1 : end].split("\n") if x.strip()] if eol + 1 < end else []
        m = _STATEMENT_LINE.match(value) or _STATEMENT_LINE_ANY_CASE.match(value)
        if m is None and extra:
            # amount (or type) wrapped onto the next line: ':61:1811261126CR' / '30,00N062NONREF'
            m = _STATEMENT_LINE_ANY_CASE.match(value.rstrip() + extra[0].strip())
            extra = extra[1:]
        if m is None:
            raise ParseError(
                f"':61:' statement line '{value.strip()[:40]}' is unreadable;"
                " expected YYMMDD[MMDD], C/D/RC/RD, amount, type code, reference",
                line_no,
            )
        vd, ed, mark, _funds, amount_text, type_code, rest = m.groups()
        value_date = _DATES.get(vd) or _date6(vd, line_no, "':61:' value date")
        if ed:
            booking_date = _ENTRY_DATES.get((value_date, ed)) or _entry_date(value_date, ed, line_no)
        else:
            booking_date = value_date
        currency = self.currency
        if _PLAIN_AMOUNT.match(amount_text):
            amount = Decimal(amount_text.replace(",", "."))
        else:
            amount = _number(amount_text, currency)
        if amount is None:
            raise ParseError(
                f"':61:' amount '{amount_text}' is unreadable; expected digits with one decimal comma",
                line_no,
            )
        if mark != "C" and mark != "D":
            mark = mark.upper()
        debit = mark == "D" or mark == "RC"  # RC: a credit taken back
        if debit:
            amount = -amount
        customer_ref, _, bank_ref = rest.partition("//")
        customer_ref = customer_ref.strip()
        bank_ref = bank_ref.strip()
        if type_code is not None:
            type_code = type_code.strip().upper() or None
        supplementary = join_wrapped(extra).strip() if extra else ""

        details = _NO_DETAILS
        if len(fields) == 2 and fields[1][0] == "86":
            details = parse_details(text[fields[1][2] : fields[1][4]])
        elif len(fields) > 1:
            info: list[str] = []
            ns: Details | None = None
            for f in fields[1:]:
                if f[0] == "86":
                    info.append(text[f[2] : f[4]])
                else:
                    ns = parse_non_swift(text[f[2] : f[4]].split("\n"))
            if info:
                details = parse_details("".join(info))
                if ns is not None:
                    details.counterparty_name = details.counterparty_name or ns.counterparty_name
                    details.remittance = details.remittance or ns.remittance
            elif ns is not None:
                details = ns

        name = details.counterparty_name
        account = details.counterparty_account
        remittance = details.remittance
        if (
            account is None
            and len(customer_ref) >= 15
            and customer_ref[2:4].isdigit()
            and customer_ref[:2].isalpha()
            and _looks_iban(customer_ref)
        ):
            # SNS / ASN: the counterparty's IBAN in the reference, the name on line two
            account = customer_ref.replace(" ", "").upper()
            if name is None and supplementary and not _looks_iban(supplementary):
                name = " ".join(supplementary.split())
                supplementary = ""
        if supplementary:
            if account is None and _looks_iban(supplementary):
                account = supplementary.replace(" ", "").upper()  # Rabobank: counterparty on line two
            elif remittance is None and details is _NO_DETAILS:
                remittance = " ".join(supplementary.split())

        bank_code = type_code
        if details.gvc:
            bank_code = f"{type_code}/{details.gvc}" if type_code else details.gvc

        # the raw text: from the ':61:' to the end of its last ':86:', without the final line break
        raw_end = fields[-1][4]
        raw = text[line_start:raw_end].rstrip()
        # positional: a third of the cost of keywords; _LINE_FIELDS pins the order at import
        self.lines.append(
            StatementLine(
                booking_date,
                amount,
                currency,
                value_date,
                bank_ref or customer_ref or None,
                name,
                account,
                details.counterparty_bic,
                details.ultimate_debtor,
                remittance,
                details.creditor_reference,
                details.end_to_end_id,
                bank_code,
                raw,
                line_no,
            )
        )
        self.debits.append(debit)

    # end ------------------------------------------------------------------------------

    def finish(self) -> Statement:
        """Close the statement: check what must be there, settle the currency."""
        self.flush()
        if self.account_raw is None or not self.account_raw.strip():
            raise ParseError(
                f"the statement ':20:{self.statement_id or ''}' has no ':25:' account; expected ':25:' after ':20:'",
                self.line_no,
            )
        if self.currency is None:
            m = re.search(r"(?:^|[\d /])([A-Z]{3})\s*$", self.account_raw)
            if m:
                self.currency = self.currency_hint = m.group(1)
        currency = self.currency
        for balance in (self.opening, self.closing):
            if balance is not None and balance.currency is None:
                balance.currency = currency
        for line in self.lines:
            if line.currency is None:
                line.currency = currency
        if self.kind == "mt940":
            if not self.opening_seen:
                self.warnings.append(f"line {self.line_no}: the statement has no opening balance (':60F:')")
            if not self.closing_seen:
                self.warnings.append(f"line {self.line_no}: the statement has no closing balance (':62F:')")
        self._check_sums()
        return Statement(
            account=normalise_account(self.account_raw, currency),
            currency=currency,
            statement_id=self.statement_id,
            sequence=self.sequence,
            opening=self.opening,
            closing=self.closing,
            lines=self.lines,
            warnings=self.warnings,
            kind=self.kind,
        )

    def _check_sums(self) -> None:
        """MT942 ``:90D:``/``:90C:`` state how many debits/credits it holds and their total."""
        for tag, count, total, line_no in self.sums:
            want_debit = tag == "90D"
            mine = [
                ln.amount for ln, debit in zip(self.lines, self.debits, strict=True) if debit == want_debit
            ]
            n = len(mine)
            s = abs(sum(mine, Decimal(0)))
            if (count is not None and count != n) or (total is not None and total != s):
                self.warnings.append(
                    f"line {line_no}: ':{tag}:' says {count} entries totalling {total};"
                    f" the report holds {n} totalling {s}"
                )


# --- entry points -----------------------------------------------------------------------


def _normalise_newlines(text: str) -> str:
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\n" not in text:
            text = text.replace("\r", "\n")  # old Mac line ends
    return text


def parse_text(text: str) -> Iterator[Statement]:
    """Read MT940/MT942 text into statements (raises :class:`ParseError` when it cannot)."""
    text = "\n" + _normalise_newlines(text)  # see _STRUCTURE
    statement: _Statement | None = None
    message_type: str | None = None
    count = 0
    for field in _fields(text):
        tag = field[0]
        if tag == "86" and statement is not None and statement.attach:
            statement.pending.append(field)  # type: ignore[union-attr]  # the common case, inlined
        elif tag == "61":
            if statement is None:
                raise ParseError(
                    "':61:' comes before any ':20:'; expected a statement starting with ':20:'", field[1]
                )
            statement.add_statement_line(field)
        elif tag == "86" or tag == "NS":
            if statement is None:
                raise ParseError(
                    f"':{tag}:' comes before any ':20:'; expected a statement starting with ':20:'", field[1]
                )
            statement.add_information(field)
        elif tag == "20":
            if statement is not None:
                yield statement.finish()
            statement = _Statement(text, field, message_type)
            count += 1
        elif tag == "-" or tag == "{":
            if statement is not None:
                yield statement.finish()
                statement = None
            if tag == "{":
                m = _ENVELOPE_TYPE.search(text, field[2], field[4])
                if m:
                    message_type = m.group(1)
            else:
                message_type = None
        elif statement is None:
            raise ParseError(
                f"':{tag}:' comes before any ':20:'; expected a statement starting with ':20:'", field[1]
            )
        else:
            statement.add_field(field)
    if statement is not None:
        yield statement.finish()
    if count == 0:
        raise ParseError(
            "no MT940 statement in the file; expected ':20:' followed by ':25:', balances and ':61:' lines"
        )


_DETECT_NEXT = frozenset({"25", "25P", "28", "28C", "60F", "60M", "60", "61", "NS", "21", "34F", "13D"})


class MT940Parser:
    """SWIFT MT940 statements and MT942 interim reports (``Statement.kind`` ``mt942``)."""

    name: ClassVar[str] = "mt940"

    def detect(self, head: bytes) -> bool:
        """True when the content is MT940/MT942.

        Either a ``:20:`` line followed (within a few lines) by ``:25:``,
        ``:28C:``, ``:60F:`` or ``:61:``, after any envelope or bank header
        lines; or a file whose first line of content is already an MT940 tag
        (a fragment, claimed so that the rejection says what is missing).
        """
        if head.startswith(b"\xff\xfe") or head.startswith(b"\xfe\xff"):
            text = head.decode("utf-16", errors="ignore")
        else:
            text = head.decode("latin-1")
            if text.startswith("\xef\xbb\xbf"):  # UTF-8 byte-order mark, read as Latin-1
                text = text[3:]
        text = _normalise_newlines(text.lstrip("\ufeff"))
        lines = text.split("\n", 5000)[:5000]
        seen_content = False
        for i, line in enumerate(lines):
            stripped = line.strip(_CTRL_WS)
            if not stripped:
                continue
            k = stripped.find("{4:")
            if stripped.startswith("{") and k >= 0:
                stripped = stripped[k + 3 :].strip()
                if not stripped:
                    continue
            tag = _known_tag(stripped)
            if tag is not None and not seen_content:
                return True
            seen_content = True
            if tag == "20":
                for nxt in lines[i + 1 : i + 12]:
                    if _known_tag(nxt.strip(_CTRL_WS)) in _DETECT_NEXT:
                        return True
        return False

    def parse(self, path: Path) -> Iterator[Statement]:
        """Read the file's statements; the encoding is settled by :func:`parsers.encoding.decode_bytes`."""
        data = Path(path).read_bytes()
        text, _encoding = decode_bytes(data)
        return parse_text(text)
