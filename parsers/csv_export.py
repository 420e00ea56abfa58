"""Bank CSV (and XLSX) exports, read through profiles.

Banks' spreadsheet exports have no standard: every bank picks its own
columns, date and number formats, encoding (GBK for Chinese banks, cp1252 for
some Dutch ones), and puts a preamble above the header (account number,
period) and a totals row below it.  A *profile* (``parsers/profiles.py`` lists
every key; built-ins in ``parsers/profiles/*.toml``) says how one export is
laid out; the contract's "CSV profiles" section (``CLI.md``) fixes the core.

Detection: a profile recognises a file when the header row it names is found
(the user's ``--profile`` profiles are tried before the built-ins; the first
that recognises the file reads it).  XLSX workbooks are read with openpyxl
(read-only) through the same profiles, from the first sheet.  QIF, legacy
``.xls`` and other ZIP archives are recognised only to be refused with a
reason, and MT940/camt/OFX/BAI2 content is never claimed.

Reading is strict where money is concerned: a row whose date, amount or
currency does not fit the profile rejects the whole file with the line and
column (``line 12: column 'Bedrag': expected an amount like 1234.56 ...``);
an ambiguous date format is refused, never guessed.  Sign: credit to our
account positive.  One statement per (account, currency) found in the file.
"""

from __future__ import annotations

import csv
import gc
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from itertools import count
from pathlib import Path
from typing import Any, ClassVar

from parsers.base import Balance, ParseError, Statement, StatementLine
from parsers.encoding import decode_bytes
from parsers.profiles import REQUIRED_COLUMNS, ColumnRef, Profile, resolve_profiles

_TRIM = " \t\u00a0\u3000"
_DELIMITERS = (",", ";", "\t", "|")
_MAX_PREAMBLE_ROWS = 300
_OLE2 = bytes.fromhex("D0CF11E0A1B11AE1")
_ISO_CURRENCY = re.compile(r"^[A-Z]{3}$")
_ZERO = Decimal(0)

Cell = Any  # str for CSV; str, int, float, datetime or None for XLSX


def _sniff(head: bytes) -> str:
    """What kind of content ``head`` is: xlsx, ods, zip, xls, qif, foreign (another format) or text."""
    if head.startswith(b"PK\x03\x04"):
        if b"opendocument.spreadsheet" in head[:256]:
            return "ods"
        return "xlsx" if b"xl/" in head else "zip"
    if head.startswith(_OLE2):
        return "xls"
    sample = head[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    upper = sample[:64].upper()
    if upper.startswith((b"!TYPE:", b"!ACCOUNT", b"!OPTION:", b"!CLEAR:")):
        return "qif"
    if sample.startswith((b"<", b"{1:", b"{4:")) or b"OFXHEADER" in sample.upper():
        return "foreign"
    first = sample.split(b"\n", 1)[0]
    if re.match(rb"^:\d{2}[A-Z]?:", first) or re.search(rb"(?m)^:20:", sample[:1024]):
        return "foreign"  # MT940 / MT942
    if first.startswith(b"01,") and re.search(rb"(?m)^(02|03|16),", sample):
        return "foreign"  # BAI2
    return "text"


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a large file becomes records.

    Reading allocates several objects per row and none of them form cycles,
    yet every 700 allocations wake the collector, which then walks the growing
    young generations: a third of the CPU time of a 100,000-row file.
    Reference counting still frees everything; the previous state is restored.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _clean(value: str, profile: Profile) -> str:
    value = value.strip(_TRIM)
    if profile.strip_quotes and value:
        value = value.strip(profile.strip_quotes).strip(_TRIM)
    if value in profile.empty_values:
        return ""
    return value


@dataclass
class _Table:
    """The rows of one export as a profile sees them."""

    header_line: int  # 1-based line (row) of the header; 0 for headerless exports
    header: list[str]  # header cells as written (empty for headerless)
    preamble: str
    rows: Iterable[tuple[int, str, list[Cell]]]  # (line, raw text, cells)


@dataclass
class _Group:
    account: str
    currency: str | None
    lines: list[StatementLine] = field(default_factory=list)
    movements: list[tuple[Decimal, date, Decimal | None, int]] = field(default_factory=list)
    balance_problem: str | None = None


class _AmountReader:
    """Amounts as a profile writes them; anything else is a ValueError."""

    def __init__(self, profile: Profile) -> None:
        dec, thou = re.escape(profile.decimal_separator), profile.thousands_separator
        whole = rf"\d{{1,3}}(?:{re.escape(thou)}\d{{3}})+|\d+" if thou else r"\d+"
        self._re = re.compile(rf"^([-+]?)\s*({whole})?(?:{dec}(\d+))?(-?)$")
        self._thou = thou
        # Fast path: what Decimal() reads exactly as the profile means it.
        # Fast path for the common cell: digits with the profile's own decimal
        # separator and nothing else ("10.5" under a decimal comma is not it).
        self.simple = re.compile(
            r"^-?\d+(?:,\d+)?$" if profile.decimal_separator == "," else r"^-?\d+(?:\.\d+)?$"
        )
        self.comma = profile.decimal_separator == ","
        sample = "1" + (thou + "234" if thou else "234") + profile.decimal_separator + "56"
        self.expected = f"an amount like {sample} (decimal '{profile.decimal_separator}'" + (
            f", thousands '{thou}')" if thou else ", no thousands separator)"
        )

    def __call__(self, value: Cell) -> Decimal | None:
        """The amount in ``value``; None for an empty cell."""
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int):
            return Decimal(value)
        if isinstance(value, float):
            # XLSX stores numbers as binary doubles; 15 significant digits is
            # what Excel itself shows, so 882.71 stays 882.71.
            return Decimal(format(value, ".15g"))
        if not isinstance(value, str):
            raise ValueError
        if not value:
            return None
        negative = False
        if value[0] == "(" and value[-1] == ")":
            negative, value = True, value[1:-1].strip(_TRIM)
        if self._thou == " ":
            value = value.replace("\u00a0", " ").replace("\u202f", " ")
        m = self._re.match(value)
        if not m or not (m.group(2) or m.group(3)) or (m.group(1) and m.group(4)):
            raise ValueError
        whole = (m.group(2) or "0").replace(self._thou, "") if self._thou else (m.group(2) or "0")
        amount = Decimal(f"{whole}.{m.group(3)}" if m.group(3) else whole)
        if negative or m.group(1) == "-" or m.group(4):
            amount = -amount
        return amount


class _DateReader:
    """Dates as a profile writes them; the format is fixed per file."""

    def __init__(self, profile: Profile, preamble: str) -> None:
        self.formats = profile.date_formats
        self.fmt = self.formats[0]
        self.cache: dict[str, date] = {}
        self._year: int | None = None
        self._month = 12
        if profile.year_from_preamble is not None:
            m = profile.year_from_preamble.search(preamble)
            if m:
                self._year = int(m.group(1))
                if m.lastindex and m.lastindex >= 2 and m.group(2):
                    self._month = int(m.group(2))

    def expected(self) -> str:
        """What a date cell should look like, for error messages."""
        try:
            example = date(2024, 12, 31).strftime(self.fmt)
        except ValueError:
            return f"a date in the format {self.fmt}"
        return f"a date like {example} ({self.fmt})"

    def parse_with(self, value: str, fmt: str) -> date:
        if "%Y" not in fmt and "%y" not in fmt:
            if self._year is None:
                raise ValueError("no year in the preamble")
            d = datetime.strptime(f"{value}|{self._year}", f"{fmt}|%Y").date()
            if d.month > self._month:
                d = datetime.strptime(f"{value}|{self._year - 1}", f"{fmt}|%Y").date()
            return d
        if fmt == "%Y-%m-%d" and len(value) == 10 and value[4] == "-" and value[7] == "-":
            return date.fromisoformat(value)
        return datetime.strptime(value, fmt).date()

    def choose(self, values: list[tuple[int, str, str]]) -> None:
        """Pick the one format that reads every date in the file, or refuse the file.

        ``values`` are (line, column, cell) of every date cell.
        """
        if len(self.formats) == 1:
            return
        readable = []
        for fmt in self.formats:
            try:
                for _line, _col, v in values:
                    self.parse_with(v, fmt)
            except ValueError:
                continue
            readable.append(fmt)
        if not readable:
            for line, col, v in values:
                if not any(self._ok(v, f) for f in self.formats):
                    raise ParseError(
                        f"column '{col}': expected a date like {' or '.join(self.formats)}, got '{v}'", line
                    )
            line, col, v = values[0]
            raise ParseError(
                f"column '{col}': the dates in this file fit no single format of {', '.join(self.formats)}",
                line,
            )
        first = readable[0]
        for other in readable[1:]:
            for line, col, v in values:
                if self.parse_with(v, first) != self.parse_with(v, other):
                    raise ParseError(
                        f"column '{col}': date '{v}' reads as {first} and as {other} and nothing in the file"
                        " settles which; give one date_format in your own profile (--profile FILE)",
                        line,
                    )
        self.fmt = first

    def _ok(self, value: str, fmt: str) -> bool:
        try:
            self.parse_with(value, fmt)
        except ValueError:
            return False
        return True

    def __call__(self, value: Cell) -> date | None:
        """The date in ``value``; None for an empty cell; ValueError otherwise."""
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if not isinstance(value, str):
            raise ValueError
        if not value:
            return None
        d = self.cache.get(value)
        if d is None:
            d = self.cache[value] = self.parse_with(value, self.fmt)
        return d


def _text(value: Cell) -> str:
    """A cell as text (XLSX numbers and dates included)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.isoformat(sep=" ") if value.time() != datetime.min.time() else value.date().isoformat()
    if isinstance(value, float):
        return format(value, ".15g")
    return str(value)


class CSVParser:
    """Bank CSV/XLSX exports through profiles (the user's first, then the built-ins)."""

    name: ClassVar[str] = "csv"

    def __init__(self, profiles: Sequence[str | Path] = ()) -> None:
        # A bad profile raises ProfileError (a ParseError) naming the file and key.
        self.profiles: list[Profile] = resolve_profiles(profiles)

    # --- detection -------------------------------------------------------------

    def detect(self, head: bytes) -> bool:
        """True when a profile recognises the header, for XLSX workbooks, and for QIF/.xls/ZIP (refused with a reason)."""
        kind = _sniff(head)
        if kind in ("xlsx", "zip", "xls", "ods", "qif"):
            return True
        if kind != "text":
            return False
        if len(head) >= 32768 and b"\n" in head:
            head = head[: head.rfind(b"\n") + 1]  # never cut a multi-byte character
        decoded: dict[str, list[str]] = {}
        for profile in self.profiles:
            lines = decoded.get(profile.encoding) or decoded.get("utf-8")
            if lines is None:
                try:
                    text, used = decode_bytes(head, hints=(profile.encoding,))
                except (UnicodeError, LookupError):
                    continue
                lines = decoded[used if used == "utf-8" else profile.encoding] = io.StringIO(
                    text, newline=""
                ).readlines()
            if _find_header_in_lines(profile, lines) is not None:
                return True
        return False

    # --- parsing ---------------------------------------------------------------

    def parse(self, path: Path) -> Iterator[Statement]:
        """Read the file with the first profile that recognises it."""
        path = Path(path)
        data = path.read_bytes()
        kind = _sniff(data[:65536])
        if kind == "qif":
            raise ParseError(
                "QIF is not supported (it carries no account, currency or bank reference);"
                " export the statement as OFX, camt.053, MT940 or CSV"
            )
        if kind == "xls":
            raise ParseError(
                "legacy Excel .xls (BIFF) is not supported; save the sheet as .xlsx or CSV and import that"
            )
        if kind == "ods":
            raise ParseError(
                "OpenDocument spreadsheets (.ods) are not supported; save the sheet as .xlsx or CSV"
            )
        if kind == "zip":
            names = _zip_names(data)
            raise ParseError(
                f"a ZIP archive ({names}), not a statement; unpack it and import the files inside"
            )
        if kind == "foreign":
            raise ParseError("not a CSV export (looks like MT940, camt, OFX or BAI2 content)")
        if kind == "xlsx":
            yield from self._parse_xlsx(data)
            return
        decoded: dict[str, list[str]] = {}
        misses: list[str] = []
        for profile in self.profiles:
            lines = decoded.get(profile.encoding) or decoded.get("utf-8")
            if lines is None:
                # Valid UTF-8 is read as UTF-8 whatever the profile says, so
                # one decode serves every profile then.
                text, used = decode_bytes(data, hints=(profile.encoding,))
                lines = decoded[used if used == "utf-8" else profile.encoding] = io.StringIO(
                    text, newline=""
                ).readlines()
            found = _find_header_in_lines(profile, lines, misses)
            if found is not None:
                with _gc_paused():
                    statements = _read(profile, _csv_table(profile, lines, *found))
                yield from statements
                return
        if misses:
            raise ParseError(f"no CSV profile recognises this file: {misses[0]}")
        raise ParseError(
            "no CSV profile recognises this file's header (tried: "
            + ", ".join(p.name for p in self.profiles)
            + "); give one with --profile FILE"
        )

    def _parse_xlsx(self, data: bytes) -> Iterator[Statement]:
        rows, sheet = _xlsx_rows(data)
        misses: list[str] = []
        for profile in self.profiles:
            if not profile.has_header:
                continue
            found = _find_header_in_rows(profile, rows, misses)
            if found is not None:
                yield from _read(profile, _xlsx_table(profile, rows, found))
                return
        if misses:
            raise ParseError(
                f"no profile recognises the first sheet ('{sheet}') of this XLSX workbook: {misses[0]}"
            )
        raise ParseError(
            f"no profile recognises the header of the first sheet ('{sheet}') of this XLSX workbook;"
            " give one with --profile FILE"
        )


# --- finding the header --------------------------------------------------------


def _missing_column(profile: Profile, cells: Sequence[Cell]) -> str | None:
    """The first column the profile cannot do without that this header lacks (None when it has them all)."""
    have = {_clean(_text(c), profile).casefold() for c in cells if c is not None}
    for key in REQUIRED_COLUMNS:
        ref = profile.columns.get(key)
        if isinstance(ref, str) and ref.casefold() not in have:
            return ref
    return None


def _find_header_in_lines(
    profile: Profile, lines: list[str], misses: list[str] | None = None
) -> tuple[int, str, list[str]] | None:
    """(0-based header line index, delimiter, header cells) or None; headerless: index of the first data line.

    A header row that holds ``header_contains`` but lacks a column the profile
    needs is not this profile's export: it is noted in ``misses`` (for the
    rejection message) and the profile does not recognise the file.
    """
    if not profile.has_header:
        for i, line in enumerate(lines[:_MAX_PREAMBLE_ROWS]):
            if line.strip(_TRIM + "\r\n"):
                assert profile.first_row_matches is not None
                if profile.first_row_matches.match(line):
                    return i, profile.delimiter or ",", []
                return None
        return None
    wanted = [h.casefold() for h in profile.header_contains]
    delimiters = (profile.delimiter,) if profile.delimiter else _DELIMITERS
    for i, line in enumerate(lines[:_MAX_PREAMBLE_ROWS]):
        folded_line = line.casefold()
        if not all(w in folded_line for w in wanted):
            continue
        for delim in delimiters:
            if delim not in line and len(wanted) > 1:
                continue
            try:
                cells = next(csv.reader([line], delimiter=delim), [])
            except csv.Error:
                continue
            folded = {_clean(c, profile).casefold() for c in cells}
            if all(w in folded for w in wanted):
                missing = _missing_column(profile, cells)
                if missing is None:
                    return i, delim, cells
                if misses is not None:
                    misses.append(
                        f"line {i + 1} looks like profile {profile.name}'s header but has no column '{missing}'"
                    )
                return None
    return None


def _find_header_in_rows(
    profile: Profile, rows: list[list[Cell]], misses: list[str] | None = None
) -> int | None:
    wanted = [h.casefold() for h in profile.header_contains]
    for i, row in enumerate(rows[:_MAX_PREAMBLE_ROWS]):
        folded = {_clean(_text(c), profile).casefold() for c in row if c is not None}
        if all(w in folded for w in wanted):
            missing = _missing_column(profile, row)
            if missing is None:
                return i
            if misses is not None:
                misses.append(
                    f"row {i + 1} looks like profile {profile.name}'s header but has no column '{missing}'"
                )
            return None
    return None


def _csv_table(profile: Profile, lines: list[str], index: int, delim: str, header: list[str]) -> _Table:
    preamble = "".join(lines[:index])
    start = index + 1 if profile.has_header else index
    header_line = index + 1 if profile.has_header else 0
    body = [line.rstrip("\r\n") for line in lines[start:]]
    if not any(line.count('"') & 1 for line in body):
        # No quoted cell spans lines (the usual case): row i is line i, and the
        # rows come straight from C iterators, with no Python loop per row.
        return _Table(
            header_line, header, preamble, zip(count(start + 1), body, csv.reader(body, delimiter=delim))
        )

    def rows() -> Iterator[tuple[int, str, list[Cell]]]:
        reader = csv.reader(iter(lines[start:]), delimiter=delim)
        consumed = 0
        for cells in reader:
            first = start + consumed
            consumed = reader.line_num
            raw = (
                lines[first] if consumed - (first - start) == 1 else "".join(lines[first : start + consumed])
            )
            yield first + 1, raw.rstrip("\r\n"), cells

    return _Table(header_line, header, preamble, rows())


def _zip_names(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return "unreadable"
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"holding {shown}" if names else "empty"


def _xlsx_rows(data: bytes) -> tuple[list[list[Cell]], str]:
    import warnings

    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles and extensions it skips
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                if not wb.worksheets:
                    raise ParseError("the XLSX workbook has no sheet")
                ws = wb.worksheets[0]
                rows = []
                for row in ws.iter_rows(values_only=True):
                    cells = list(row)
                    while cells and (cells[-1] is None or cells[-1] == ""):
                        cells.pop()
                    rows.append(cells)
                return rows, ws.title
            finally:
                wb.close()
    except ParseError:
        raise
    except Exception as exc:  # openpyxl raises many kinds on a damaged workbook
        raise ParseError(f"cannot read the XLSX workbook ({type(exc).__name__}: {exc})") from None


def _xlsx_table(profile: Profile, rows: list[list[Cell]], index: int) -> _Table:
    preamble = "\n".join(" ".join(_text(c) for c in row if c is not None) for row in rows[:index])

    def gen() -> Iterator[tuple[int, str, list[Cell]]]:
        for i in range(index + 1, len(rows)):
            cells = rows[i]
            yield i + 1, "\t".join(_text(c) for c in cells), cells

    return _Table(index + 1, [_text(c) for c in rows[index]], preamble, gen())


# --- reading rows ---------------------------------------------------------------


def _read(profile: Profile, table: _Table) -> list[Statement]:
    """Turn a located table into statements, one per (account, currency)."""
    # Resolve column references to indexes.
    positions: dict[str, int] = {}
    if profile.has_header:
        for i, cell in enumerate(table.header):
            key = _clean(_text(cell), profile).casefold()
            if key and key not in positions:
                positions[key] = i

    def index_of(ref: ColumnRef) -> int:
        if isinstance(ref, int):
            return ref
        idx = positions.get(ref.casefold())
        if idx is None:
            raise ParseError(
                f"the header has no column '{ref}' that profile {profile.name} reads",
                table.header_line or None,
            )
        return idx

    def label(ref: ColumnRef) -> str:
        return ref if isinstance(ref, str) else f"column {ref + 1}"

    cols = profile.columns
    absent: list[str] = []

    def present(ref: ColumnRef) -> bool:
        # Optional columns (texts, value date, balance) that this export
        # lacks are left empty with a warning; required ones were checked
        # when the header was recognised.
        if isinstance(ref, int) or ref.casefold() in positions:
            return True
        absent.append(ref)
        return False

    idx: dict[str, int] = {
        k: index_of(v)  # type: ignore[arg-type]
        for k, v in cols.items()
        if k != "remittance" and (k in REQUIRED_COLUMNS or present(v))  # type: ignore[arg-type]
    }
    names = {k: label(v) for k, v in cols.items() if k != "remittance"}  # type: ignore[arg-type]
    remit_idx = [index_of(r) for r in cols.get("remittance", ()) if present(r)]  # type: ignore[union-attr]
    skip_where = [(index_of(c), values) for c, values in profile.skip_rows_where]
    header_folded = [_clean(_text(c), profile).casefold() for c in table.header]

    # Account from the profile or the preamble.
    fixed_account = profile.account
    warnings: list[str] = []
    if absent:
        warnings.append(
            f"the header has no column {', '.join(repr(a) for a in absent)} that profile {profile.name} reads;"
            " left empty"
        )
    if profile.account_from_preamble is not None:
        m = profile.account_from_preamble.search(table.preamble)
        if not m or not (m.group(1) if m.lastindex else m.group(0)).strip():
            raise ParseError(
                f"no account number found above the header (profile {profile.name} looks for"
                f" /{profile.account_from_preamble.pattern}/)",
                table.header_line or None,
            )
        fixed_account = (m.group(1) if m.lastindex else m.group(0)).strip()
    if fixed_account is None and "account" not in idx:
        fixed_account = profile.name
        warnings.append(
            f"the export names no account; its lines are filed under '{profile.name}'"
            " (give 'account' in your own profile to name it)"
        )

    strip_q, empties = profile.strip_quotes, profile.empty_values

    def norm(c: Cell) -> Cell:
        """A cell trimmed, unquoted and emptied as the profile says; XLSX numbers and dates keep their type."""
        if c.__class__ is str:
            c = c.strip(_TRIM)
            if strip_q and c:
                c = c.strip(strip_q).strip(_TRIM)
            return "" if empties and c in empties else c
        return "" if c is None else c

    plain = not strip_q and not empties
    # Only the columns the profile reads are kept, in the order of ``used``;
    # the indexes below are positions in that short row, whose last cell is an
    # empty sentinel: a column the profile does not map reads index -1.
    used = sorted({*idx.values(), *remit_idx, *(i for i, _ in skip_where)})
    pos = {i: k for k, i in enumerate(used)}
    idx = {k: pos[i] for k, i in idx.items()}
    remit_idx = [pos[i] for i in remit_idx]
    skip_where = [(pos[i], values) for i, values in skip_where]
    # Columns read as text: XLSX numbers there (references, account numbers) become text up front.
    text_cols = sorted(
        {
            i
            for k, i in idx.items()
            if k
            not in (
                "booking_date",
                "value_date",
                "amount",
                "credit",
                "debit",
                "fee",
                "balance",
                "balance_before",
            )
        }
        | set(remit_idx)
        | {i for i, _ in skip_where}
    )

    # First pass: normalise the cells, drop blank, footer and skipped rows.
    kept: list[tuple[int, str, list[Cell]]] = []
    skipped_where = skipped_ignored = 0
    header_first = next((h for h in (_clean(_text(c), profile) for c in table.header) if h), None)
    n_header = len(header_folded)
    skip_patterns = profile.skip_rows_matching
    rows = iter(table.rows)
    line = table.header_line
    while True:
        try:
            line, raw, cells = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:
            raise ParseError(f"unreadable CSV ({exc})", line + 1) from None
        first: Cell = cells[0].strip(_TRIM) if cells and cells[0].__class__ is str else ""
        if first == "":
            for c in cells:
                if c.__class__ is str:
                    c = c.strip(_TRIM)
                    if c:
                        first = c
                        break
                elif c is not None:
                    first = c
                    break
            if first == "":
                continue
        if skip_patterns:
            text = first if first.__class__ is str else _text(first)
            if any(p.search(text) for p in skip_patterns):
                continue
        if first == header_first and first.__class__ is str:
            if [_text(norm(c)).casefold() for c in cells[:n_header]] == header_folded:
                continue  # the header repeated (exports of several accounts)
        n = len(cells)
        try:
            if plain:
                vals = [cells[i].strip(_TRIM) if i < n else "" for i in used]
            else:
                vals = [norm(cells[i]) if i < n else "" for i in used]
            typed = False
        except AttributeError:  # XLSX: typed cells
            vals = [norm(cells[i]) if i < n else "" for i in used]
            typed = True
        vals.append("")
        if typed:
            for i in text_cols:
                if vals[i].__class__ is not str:
                    vals[i] = _text(vals[i])
        if skip_where and any(vals[i] in values for i, values in skip_where):
            skipped_where += 1
            continue
        kept.append((line, raw, vals))

    dates = _DateReader(profile, table.preamble)
    if len(profile.date_formats) > 1:
        samples = [
            (line, names[key], c)
            for line, _raw, cells in kept
            for key in ("booking_date", "value_date")
            if key in idx and isinstance(c := cells[idx[key]], str) and c
        ]
        dates.choose(samples)
    amounts = _AmountReader(profile)

    def bad(key: str, expected: str, value: Cell, line: int) -> ParseError:
        return ParseError(f"column '{names[key]}': expected {expected}, got '{_text(value)}'", line)

    def read_amount(cells: list[Cell], key: str, line: int) -> Decimal | None:
        value = cells[idx[key]]
        try:
            return amounts(value)
        except (ValueError, ArithmeticError):
            raise bad(key, amounts.expected, value, line) from None

    def read_date(cells: list[Cell], key: str, line: int) -> date | None:
        value = cells[idx[key]]
        try:
            return dates(value)
        except ValueError:
            raise bad(key, dates.expected(), value, line) from None

    groups: dict[tuple[str, str | None], _Group] = {}
    sign = profile.amount_sign
    has_split = "credit" in idx
    has_indicator = "debit_credit_indicator" in idx
    has_value_date = "value_date" in idx
    has_fee = "fee" in idx
    i_book = idx["booking_date"]
    i_value = idx.get("value_date", -1)
    i_amount = idx.get("amount", -1)
    i_indicator = idx.get("debit_credit_indicator", -1)
    i_currency = idx.get("currency")
    i_account = idx.get("account")
    i_ref = idx.get("reference", -1)
    i_cp_name = idx.get("counterparty_name", -1)
    i_cp_account = idx.get("counterparty_account", -1)
    i_cp_bic = idx.get("counterparty_bic", -1)
    i_cref = idx.get("creditor_reference", -1)
    i_e2e = idx.get("end_to_end_id", -1)
    i_code = idx.get("bank_code", -1)
    aliases = profile.currency_aliases
    balance_key = "balance" if "balance" in idx else "balance_before" if "balance_before" in idx else ""
    i_balance = idx.get(balance_key, -1)
    fixed_currency = profile.currency
    # Indicator cell -> +1 (in), -1 (out), 0 (neither: skip); unknown values are refused.
    directions: dict[str, int] = {}
    for v in profile.credit_values:
        directions[v] = 1
    for v in profile.debit_values:
        directions[v] = -1
    for v in profile.ignore_values:
        directions[v] = 0
    direction_cache: dict[Cell, int] = {}
    currency_cache: dict[Cell, str] = {}
    date_cache = dates.cache
    amount_re, comma = amounts.simple, amounts.comma
    last_key: tuple[str, str | None] | None = None
    group: _Group | None = None
    r0 = remit_idx[0] if len(remit_idx) == 1 else -1
    many_remit = len(remit_idx) > 1

    for line, raw, cells in kept:
        direction = 1
        if has_indicator:
            ind = cells[i_indicator]
            direction = direction_cache.get(ind, 2)
            if direction == 2:
                direction = directions.get(ind.casefold(), 2)
                if direction == 2:
                    raise bad(
                        "debit_credit_indicator", f"one of {', '.join(profile.direction_labels)}", ind, line
                    )
                direction_cache[ind] = direction
            if direction == 0:
                skipped_ignored += 1
                continue
        booked = date_cache.get(cells[i_book])
        if booked is None:
            booked = read_date(cells, "booking_date", line)
            if booked is None:
                raise bad("booking_date", dates.expected(), "", line)
        value_date = None
        if has_value_date:
            value = cells[i_value]
            if value != "":
                value_date = date_cache.get(value) or read_date(cells, "value_date", line)

        if has_split:
            credit = read_amount(cells, "credit", line) or _ZERO
            debit = read_amount(cells, "debit", line) or _ZERO
            if credit < 0:
                raise bad("credit", "a credit amount that is not negative", cells[idx["credit"]], line)
            if credit and debit:
                raise ParseError(
                    f"columns '{names['credit']}' and '{names['debit']}' are both filled; expected one of them",
                    line,
                )
            amount = credit - abs(debit)
        else:
            value = cells[i_amount]
            if value.__class__ is str and amount_re.match(value):
                amount = Decimal(value.replace(",", ".") if comma else value)
            else:
                parsed = read_amount(cells, "amount", line)
                if parsed is None:
                    raise bad("amount", amounts.expected, "", line)
                amount = parsed
            if has_indicator:
                if amount < 0:
                    raise bad(
                        "amount",
                        f"an unsigned amount (the sign is in column '{names['debit_credit_indicator']}')",
                        value,
                        line,
                    )
                if direction < 0:
                    amount = -amount
        if sign < 0:
            amount = -amount

        if i_currency is not None:
            raw_cur = cells[i_currency]
            currency = currency_cache.get(raw_cur)
            if currency is None:
                currency = aliases.get(raw_cur.casefold(), raw_cur.upper())
                if not _ISO_CURRENCY.match(currency):
                    raise bad("currency", "an ISO 4217 currency code (e.g. EUR)", raw_cur, line)
                currency_cache[raw_cur] = currency
        else:
            currency = fixed_currency

        if i_account is not None:
            account = cells[i_account]
            if not account:
                raise bad("account", "the account number", "", line)
        else:
            account = fixed_account  # type: ignore[assignment]

        if many_remit:
            remittance = " ".join([cells[i] for i in remit_idx if cells[i]]) or None
        else:
            remittance = cells[r0] or None
        reference = cells[i_ref] or None

        key = (account, currency)
        if key != last_key:
            group = groups.get(key)
            if group is None:
                group = groups[key] = _Group(account, currency)
            last_key = key
        assert group is not None
        group.lines.append(
            StatementLine(
                booked,
                amount,
                currency,
                value_date,
                reference,
                cells[i_cp_name] or None,
                cells[i_cp_account] or None,
                cells[i_cp_bic] or None,
                None,
                remittance,
                cells[i_cref] or None,
                cells[i_e2e] or None,
                cells[i_code] or None,
                raw,
                line,
            )
        )
        net = amount
        if has_fee:
            fee = read_amount(cells, "fee", line)
            if fee:
                fee *= sign
                net += fee
                group.lines.append(
                    StatementLine(
                        booking_date=booked,
                        amount=fee,
                        currency=currency,
                        value_date=value_date,
                        bank_reference=f"{reference}-FEE" if reference else None,
                        remittance=f"fee{' for ' + reference if reference else ''}",
                        bank_code="FEE",
                        raw=raw,
                        source_line=line,
                    )
                )
        if i_balance >= 0:
            _track_balance(
                group, profile, cells[i_balance], names[balance_key], balance_key, net, booked, line, amounts
            )

    if skipped_where:
        what = "; ".join(f"{label(c)} = {', '.join(sorted(v))}" for c, v in profile.skip_rows_where)
        warnings.append(f"{skipped_where} row(s) skipped by the profile ({what})")
    if skipped_ignored:
        warnings.append(
            f"{skipped_ignored} row(s) skipped: column '{names['debit_credit_indicator']}' says neither in nor out"
            f" ({', '.join(sorted(profile.ignore_values))})"
        )
    if (
        not groups
        and fixed_account is not None
        and "account" not in idx
        and (profile.currency or "currency" not in idx)
    ):
        groups[(fixed_account, profile.currency)] = _Group(fixed_account, profile.currency)
    statements = []
    for group in groups.values():
        opening, closing, note = _balances(group)
        stmt_warnings = ([] if statements else warnings) + ([note] if note else [])
        statements.append(
            Statement(
                account=group.account,
                currency=group.currency,
                opening=opening,
                closing=closing,
                lines=group.lines,
                warnings=stmt_warnings,
                kind=f"csv:{profile.name}",
            )
        )
    return statements


def _track_balance(
    group: _Group,
    profile: Profile,
    value: Cell,
    column: str,
    key: str,
    net: Decimal,
    booked: date,
    line: int,
    amounts: _AmountReader,
) -> None:
    if group.balance_problem:
        return
    try:
        bal = amounts(value)
    except (ValueError, ArithmeticError):
        bal = None
    if bal is None:
        # A balance is a check, not money we store: an unreadable one costs
        # the balances of this statement, not the file.
        group.balance_problem = (
            f"line {line}: column '{column}' holds no readable balance ('{_text(value)}');"
            " no opening/closing balance taken"
        )
        return
    if profile.amount_sign < 0:
        bal = -bal
    after = bal + net if key == "balance_before" else bal
    group.movements.append((net, booked, after, line))


def _balances(group: _Group) -> tuple[Balance | None, Balance | None, str | None]:
    """Opening and closing balance from the per-row balances, when the rows add up in one direction."""
    if group.balance_problem:
        return None, None, group.balance_problem
    moves = group.movements
    if not moves:
        return None, None, None
    for ordered in (moves, moves[::-1]):
        if all(ordered[k][2] == ordered[k - 1][2] + ordered[k][0] for k in range(1, len(ordered))):  # type: ignore[operator]
            first, last = ordered[0], ordered[-1]
            dates = [m[1] for m in moves]
            opening = Balance(first[2] - first[0], min(dates), group.currency)  # type: ignore[operator]
            closing = Balance(last[2], max(dates), group.currency)  # type: ignore[arg-type]
            return opening, closing, None
    return None, None, "the balance column does not add up row by row; no opening/closing balance taken"
