"""CSV/XLSX export profiles: load, validate and find them.

A bank's CSV (or XLSX) export is read through a profile, a small TOML file
that says where the header is and what each column means.  Built-in profiles
live in ``parsers/profiles/*.toml``; a user passes their own with
``recon import --profile FILE`` (or a built-in's name).  The contract
(``CLI.md``, "CSV profiles") fixes the keys marked (contract); the others are
ours and equally supported.

Keys (top level)
----------------
name                  (contract) required; the profile's name, shown as ``csv:<name>``.
description           optional; one line saying which export this reads.
encoding              (contract) any Python codec, default ``utf-8``; a BOM always
                      wins, and bytes that are valid UTF-8 are read as UTF-8.
delimiter             (contract) one character (``","``, ``";"``, ``"\\t"``, ``"|"``);
                      default: detected (the one under which the header is found).
header_contains       (contract) list of header cells; the header is the first row
                      holding all of them (trimmed, case-insensitive); rows above
                      it are the preamble.  Required unless ``first_row_matches``.
first_row_matches     ours: for exports WITHOUT a header row (ASN Bank): a regular
                      expression the first non-blank line must match (searched
                      from its start); ``[columns]`` then give 1-based column
                      numbers instead of header cells; ``delimiter`` is required.
skip_rows_matching    (contract) list of regular expressions; a row whose first
                      non-empty cell matches one (``re.search``) is skipped
                      silently (totals, footers).  Blank rows and repeated header
                      rows are always skipped.
skip_rows_where       ours: table ``"<column>" = ["value", ...]``; a row whose cell
                      in that column equals one of the values is skipped, and
                      the number skipped is reported as a warning (e.g. Alipay
                      rows with 交易状态 = 交易关闭, closed trades that moved no money).
date_format           (contract) ``strptime`` format of the date cells, default ``%Y-%m-%d``.
                      A format with a time part is fine (``%Y-%m-%d %H:%M:%S``).
date_formats          ours: a list of formats instead of one.  The format is chosen
                      per file: the one that reads every date in it.  When two
                      formats read every date but disagree on one (``2/1/2020``:
                      1 Feb or 2 Jan?) the file is refused, never guessed.
year_from_preamble    ours: for date formats without a year (``%m/%d``): a regular
                      expression over the preamble whose group 1 is the
                      statement's year and optional group 2 its month; a date
                      whose month is after that month belongs to the year before.
decimal_separator     (contract) ``"."`` (default) or ``","``.
thousands_separator   (contract) ``""`` (default: none allowed), ``","``, ``"."``,
                      ``" "`` or ``"'"``.  Grouping must be in threes
                      (``1,234.50``); an amount that does not fit the profile's
                      separators rejects the file, never a misread.
account               (contract) the statement's account, a fixed value ...
account_from_preamble (contract) ... or a regular expression over the preamble
                      (all lines above the header), group 1 ...
                      (or ``[columns] account``: the account per row; one
                      statement per account.)  With none of the three the
                      account is the profile's name and the statement warns.
currency              (contract) fixed ISO 4217 code, or name a column under
                      ``[columns] currency``; one statement per currency.
currency_aliases      ours: table mapping currency cells to ISO codes
                      (``"人民币" = "CNY"``).
amount_sign           ours: ``"as-is"`` (default) or ``"invert"`` (credit-card
                      exports that show spending as positive): the sign after
                      this is "credit to our account positive".
credit_values         ours: with ``[columns] debit_credit_indicator``, the cell
debit_values          values meaning money in / money out (compared trimmed and
ignore_values         case-insensitive); the amount cell must then be unsigned.
                      Rows with an ``ignore_values`` value are skipped and
                      counted in a warning; any other value rejects the file.
empty_values          ours: cell values that mean "empty" (ICBC writes ``-``).
strip_quotes          ours: characters stripped from both ends of every cell after
                      trimming (ASN and BMO wrap values in ``'``).

[columns]  (values: header cells, or 1-based numbers with ``first_row_matches``)
------------------------------------------------------------------------------
Header cells are compared trimmed and case-insensitively.  A profile
recognises a file only when the header also holds every *required* column it
maps (booking_date, amount or credit/debit, debit_credit_indicator, fee, and
currency/account when mapped as columns); the other columns, when an export
lacks them, are left empty and the statement warns.

booking_date          (contract) required.
value_date            (contract) optional; an empty cell is no value date.
amount                (contract) signed amount; or give ``credit`` and ``debit``
credit, debit         (contract) instead; an empty cell is zero; a debit is
                      money out whatever its sign; a negative credit, or a row
                      with both filled, rejects the file.
fee                   ours: a signed fee column (PayPal): a non-zero fee becomes a
                      second line (``bank_code`` ``FEE``, reference ``<ref>-FEE``)
                      next to the gross amount, so the gross matches the invoice
                      and the balance still adds up.
counterparty_name, counterparty_account, counterparty_bic, reference,
end_to_end_id, creditor_reference, bank_code
                      optional text columns (``reference`` is the bank reference
                      the contract's export shows).
remittance            (contract) a column or a list of columns, joined by a space.
balance               (contract) balance after the row; gives the opening and
                      closing balance when the rows add up (either row order);
                      an unreadable balance cell only costs a warning.
balance_before        ours: balance before the row (ASN); as ``balance``.
currency              (contract) see ``currency`` above.
account               ours: see ``account`` above.
debit_credit_indicator ours: see ``credit_values``.
"""

from __future__ import annotations

import codecs
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from parsers.base import ParseError

BUILTIN_DIR = Path(__file__).with_name("profiles")

_TOP_KEYS = {
    "name",
    "description",
    "encoding",
    "delimiter",
    "header_contains",
    "first_row_matches",
    "skip_rows_matching",
    "skip_rows_where",
    "date_format",
    "date_formats",
    "year_from_preamble",
    "decimal_separator",
    "thousands_separator",
    "account",
    "account_from_preamble",
    "currency",
    "currency_aliases",
    "amount_sign",
    "credit_values",
    "debit_values",
    "ignore_values",
    "empty_values",
    "strip_quotes",
    "columns",
}
_TEXT_COLUMNS = (
    "counterparty_name",
    "counterparty_account",
    "counterparty_bic",
    "reference",
    "end_to_end_id",
    "creditor_reference",
    "bank_code",
)
_SINGLE_COLUMNS = (
    "booking_date",
    "value_date",
    "amount",
    "credit",
    "debit",
    "fee",
    "balance",
    "balance_before",
    "currency",
    "account",
    "debit_credit_indicator",
    *_TEXT_COLUMNS,
)
_COLUMN_KEYS = {*_SINGLE_COLUMNS, "remittance"}
# The columns a profile cannot read a row without: a header lacking one of
# them is not this profile's export.  The others (texts, value date, balance)
# are left empty, with a warning, when an export lacks them.
REQUIRED_COLUMNS = (
    "booking_date",
    "amount",
    "credit",
    "debit",
    "debit_credit_indicator",
    "currency",
    "account",
    "fee",
)
_DELIMITERS = {",", ";", "\t", "|"}
_THOUSANDS = {"", ",", ".", " ", "'"}

ColumnRef = str | int


class ProfileError(ParseError):
    """A profile file that cannot be used; the message is one line naming the file and the key."""


@dataclass(frozen=True)
class Profile:
    """A validated CSV/XLSX export profile (see the module docstring for the keys)."""

    name: str
    source: str
    description: str = ""
    encoding: str = "utf-8"
    delimiter: str | None = None
    header_contains: tuple[str, ...] = ()
    first_row_matches: re.Pattern[str] | None = None
    skip_rows_matching: tuple[re.Pattern[str], ...] = ()
    skip_rows_where: tuple[tuple[ColumnRef, frozenset[str]], ...] = ()
    date_formats: tuple[str, ...] = ("%Y-%m-%d",)
    year_from_preamble: re.Pattern[str] | None = None
    decimal_separator: str = "."
    thousands_separator: str = ""
    account: str | None = None
    account_from_preamble: re.Pattern[str] | None = None
    currency: str | None = None
    currency_aliases: dict[str, str] = field(default_factory=dict)
    amount_sign: int = 1
    credit_values: frozenset[str] = frozenset()
    debit_values: frozenset[str] = frozenset()
    ignore_values: frozenset[str] = frozenset()
    empty_values: frozenset[str] = frozenset()
    direction_labels: tuple[str, ...] = ()  # credit/debit/ignore values as written, for messages
    strip_quotes: str = ""
    columns: dict[str, ColumnRef | tuple[ColumnRef, ...]] = field(default_factory=dict)

    @property
    def has_header(self) -> bool:
        """False for headerless exports read by column number."""
        return self.first_row_matches is None


def _fail(source: str, message: str) -> ProfileError:
    return ProfileError(f"profile {source}: {message}")


def _str_list(source: str, key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(source, f"'{key}' must be a string or a list of strings")
    return tuple(value)


def _regex(source: str, key: str, pattern: Any) -> re.Pattern[str]:
    if not isinstance(pattern, str):
        raise _fail(source, f"'{key}' must be a regular expression string")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise _fail(source, f"'{key}' is not a valid regular expression ({exc})") from None


def profile_from_dict(data: dict[str, Any], source: str) -> Profile:
    """Validate a parsed TOML table into a :class:`Profile`; raise :class:`ProfileError` naming the key."""
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise _fail(source, f"unknown key '{unknown[0]}' (known: {', '.join(sorted(_TOP_KEYS))})")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _fail(source, "'name' is required (a non-empty string)")
    kw: dict[str, Any] = {"name": name.strip(), "source": source}
    if "description" in data:
        kw["description"] = str(data["description"])

    encoding = data.get("encoding", "utf-8")
    try:
        kw["encoding"] = codecs.lookup(encoding).name
    except (LookupError, TypeError):
        raise _fail(source, f"'encoding' {encoding!r} is not a Python codec") from None

    if "delimiter" in data:
        delim = data["delimiter"]
        if delim == "\\t":
            delim = "\t"
        if not isinstance(delim, str) or len(delim) != 1:
            raise _fail(source, '\'delimiter\' must be one character, e.g. "," or ";"')
        kw["delimiter"] = delim

    if "first_row_matches" in data:
        kw["first_row_matches"] = _regex(source, "first_row_matches", data["first_row_matches"])
        if "delimiter" not in kw:
            raise _fail(source, "'first_row_matches' (no header row) needs an explicit 'delimiter'")
        if "header_contains" in data:
            raise _fail(source, "give either 'header_contains' or 'first_row_matches', not both")
    else:
        cells = _str_list(source, "header_contains", data.get("header_contains", []))
        cells = tuple(c.strip() for c in cells if c.strip())
        if not cells:
            raise _fail(source, "'header_contains' is required: the header cells that identify the export")
        kw["header_contains"] = cells
    headerless = "first_row_matches" in kw

    kw["skip_rows_matching"] = tuple(
        _regex(source, "skip_rows_matching", p)
        for p in _str_list(source, "skip_rows_matching", data.get("skip_rows_matching", []))
    )

    if "date_format" in data and "date_formats" in data:
        raise _fail(source, "give either 'date_format' or 'date_formats', not both")
    formats = _str_list(source, "date_formats", data.get("date_formats", data.get("date_format", "%Y-%m-%d")))
    if not formats:
        raise _fail(source, "'date_formats' must not be empty")
    for fmt in formats:
        if "%" not in fmt:
            raise _fail(source, f"date format {fmt!r} has no strptime directive (e.g. %Y-%m-%d)")
    kw["date_formats"] = formats
    yearless = [f for f in formats if "%Y" not in f and "%y" not in f]
    if "year_from_preamble" in data:
        kw["year_from_preamble"] = _regex(source, "year_from_preamble", data["year_from_preamble"])
    elif yearless:
        raise _fail(source, f"date format {yearless[0]!r} has no year: add 'year_from_preamble'")

    dec = data.get("decimal_separator", ".")
    if dec not in (".", ","):
        raise _fail(source, '\'decimal_separator\' must be "." or ","')
    thou = data.get("thousands_separator", "")
    if thou not in _THOUSANDS or thou == dec:
        raise _fail(
            source,
            '\'thousands_separator\' must be "", ",", ".", " " or "\'", and differ from the decimal separator',
        )
    kw["decimal_separator"], kw["thousands_separator"] = dec, thou

    for key in ("account", "currency"):
        if key in data:
            if not isinstance(data[key], str) or not data[key].strip():
                raise _fail(source, f"'{key}' must be a non-empty string")
            kw[key] = data[key].strip()
    if "currency" in kw:
        kw["currency"] = kw["currency"].upper()
        if not re.fullmatch(r"[A-Z]{3}", kw["currency"]):
            raise _fail(source, f"'currency' {data['currency']!r} is not an ISO 4217 code (e.g. EUR)")
    if "account_from_preamble" in data:
        if "account" in kw:
            raise _fail(source, "give either 'account' or 'account_from_preamble', not both")
        kw["account_from_preamble"] = _regex(source, "account_from_preamble", data["account_from_preamble"])

    aliases = data.get("currency_aliases", {})
    if not isinstance(aliases, dict) or not all(isinstance(v, str) for v in aliases.values()):
        raise _fail(source, '\'currency_aliases\' must be a table of "cell" = "ISO code"')
    kw["currency_aliases"] = {k.strip().casefold(): v.strip().upper() for k, v in aliases.items()}

    sign = data.get("amount_sign", "as-is")
    if sign not in ("as-is", "invert"):
        raise _fail(source, '\'amount_sign\' must be "as-is" or "invert"')
    kw["amount_sign"] = -1 if sign == "invert" else 1

    for key in ("credit_values", "debit_values", "ignore_values", "empty_values"):
        values = _str_list(source, key, data.get(key, []))
        folded = (
            (v.strip().casefold() for v in values) if key != "empty_values" else (v.strip() for v in values)
        )
        kw[key] = frozenset(folded)
    kw["direction_labels"] = tuple(
        v.strip()
        for key in ("credit_values", "debit_values", "ignore_values")
        for v in _str_list(source, key, data.get(key, []))
    )
    strip = data.get("strip_quotes", "")
    if not isinstance(strip, str):
        raise _fail(source, "'strip_quotes' must be a string of characters, e.g. \"'\"")
    kw["strip_quotes"] = strip

    columns = data.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise _fail(source, "a [columns] table is required")
    unknown = sorted(set(columns) - _COLUMN_KEYS)
    if unknown:
        raise _fail(source, f"unknown column key '{unknown[0]}' (known: {', '.join(sorted(_COLUMN_KEYS))})")

    def ref(key: str, value: Any) -> ColumnRef:
        if headerless:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise _fail(source, f"[columns] {key}: without a header row, columns are 1-based numbers")
            return value - 1
        if not isinstance(value, str) or not value.strip():
            raise _fail(source, f"[columns] {key} must name a header cell")
        return value.strip()

    cols: dict[str, ColumnRef | tuple[ColumnRef, ...]] = {}
    for key, value in columns.items():
        if key == "remittance":
            values = value if isinstance(value, list) else [value]
            if not values:
                raise _fail(source, "[columns] remittance must name at least one column")
            cols[key] = tuple(ref(key, v) for v in values)
        else:
            cols[key] = ref(key, value)
    kw["columns"] = cols
    if "booking_date" not in cols:
        raise _fail(source, "[columns] booking_date is required")
    has_amount = "amount" in cols
    has_split = "credit" in cols or "debit" in cols
    if has_amount == has_split:
        raise _fail(source, "[columns] needs either 'amount' or both 'credit' and 'debit'")
    if has_split and not ("credit" in cols and "debit" in cols):
        raise _fail(source, "[columns] 'credit' and 'debit' go together")
    if "debit_credit_indicator" in cols:
        if not has_amount:
            raise _fail(source, "[columns] debit_credit_indicator works with 'amount', not credit/debit")
        if not kw["credit_values"] or not kw["debit_values"]:
            raise _fail(source, "a debit_credit_indicator column needs 'credit_values' and 'debit_values'")
    elif kw["credit_values"] or kw["debit_values"] or kw["ignore_values"]:
        raise _fail(source, "'credit_values'/'debit_values' need [columns] debit_credit_indicator")
    if "currency" in cols and "currency" in kw:
        raise _fail(source, "currency is given both fixed and as a column; keep one")
    if "account" in cols and ("account" in kw or "account_from_preamble" in kw):
        raise _fail(source, "account is given both as a column and fixed/from the preamble; keep one")

    where = data.get("skip_rows_where", {})
    if not isinstance(where, dict):
        raise _fail(source, '\'skip_rows_where\' must be a table of "column" = ["value", ...]')
    skip_where = []
    for column, values in where.items():
        col = ref("skip_rows_where", int(column) if headerless and str(column).isdigit() else column)
        skip_where.append((col, frozenset(v.strip() for v in _str_list(source, "skip_rows_where", values))))
    kw["skip_rows_where"] = tuple(skip_where)
    return Profile(**kw)


def load_profile(path: str | Path) -> Profile:
    """Read and validate a profile TOML file."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ProfileError(f"profile {path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"profile {path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ProfileError(f"profile {path}: cannot be read ({exc.strerror})") from None
    return profile_from_dict(data, str(path))


@cache
def _builtins() -> tuple[Profile, ...]:
    profiles = [load_profile(p) for p in sorted(BUILTIN_DIR.glob("*.toml"))]
    # The most specific header first, so that an export with an extra column
    # (ing-nl-saldo) is not taken by the profile of its older sibling.
    profiles.sort(key=lambda p: (not p.has_header, -len(p.header_contains), p.name))
    names = [p.name for p in profiles]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ProfileError(f"built-in profiles: name {sorted(dupes)[0]!r} is used twice")
    return tuple(profiles)


def builtin_profiles() -> list[Profile]:
    """Every built-in profile, in the order they are tried."""
    return list(_builtins())


def resolve_profile(name_or_path: str | Path) -> Profile:
    """A built-in profile by name, or a user's profile TOML file by path.

    A path wins when the file exists; otherwise the name must be a built-in's.
    """
    candidate = Path(name_or_path)
    if candidate.suffix.lower() == ".toml" or candidate.exists() or "/" in str(name_or_path):
        if candidate.is_file():
            return load_profile(candidate)
        if candidate.suffix.lower() == ".toml" or "/" in str(name_or_path):
            raise ProfileError(f"profile {name_or_path}: no such file")
    for profile in _builtins():
        if profile.name == str(name_or_path):
            return profile
    known = ", ".join(p.name for p in _builtins())
    raise ProfileError(
        f"profile {name_or_path}: neither a TOML file nor a built-in profile (built-ins: {known})"
    )


def resolve_profiles(names_or_paths: Sequence[str | Path]) -> list[Profile]:
    """The user's profiles, then every built-in not already named; the order CSV detection tries them."""
    chosen = [resolve_profile(p) for p in names_or_paths]
    seen = {(p.name, p.source) for p in chosen}
    return chosen + [p for p in _builtins() if (p.name, p.source) not in seen]
