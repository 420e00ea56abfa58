"""OFX / QFX statements: OFX 1.x (SGML) and 2.x (XML), bank and credit-card.

OFX (Open Financial Exchange, https://www.financialdataexchange.org/ofx) is
what US, Canadian, Brazilian, Australian and some French banks hand out as
"Quicken / Money download".  A file is a header (OFX 1.x: ``KEY:VALUE`` lines;
2.x: an XML declaration and an ``<?OFX ...?>`` processing instruction) and an
``<OFX>`` body.  In 1.x SGML, leaf elements have no end tag (``<TRNAMT>-10.00``)
while aggregates do (``</STMTTRN>``); 2.x is well-formed XML.  Statements live
in ``STMTRS`` (bank) and ``CCSTMTRS`` (credit card), each with ``CURDEF``, the
account (``BANKACCTFROM`` / ``CCACCTFROM``), a ``BANKTRANLIST`` of ``STMTTRN``
and the closing ``LEDGERBAL``.

What real files do, and what this module does about it:

* header block on one physical line (``OFXHEADER:100DATA:OFXSGMLVERSION:102``),
  blank lines before it, inside ``<!-- -->`` comments, or missing altogether:
  the header is cut on the known key names wherever it is; the body starts at
  ``<OFX>``;
* ``ENCODING:USASCII`` is a byte-width statement, not a codec; ``CHARSET``
  (``1252``, ``NONE`` -> cp1252, ``8859-1`` / ``ISO-8859-1`` -> latin-1) names
  the code page, and bytes that are valid UTF-8 are UTF-8 whatever the header
  says (``parsers.encoding.decode_bytes``);
* end tags optional on leaves, present on some and not others, self-closing
  ``<MEMO/>``, empty ``<CURDEF></CURDEF>``, mixed-case values, vendor tags
  (``<INTU.BID>``, ``<ACCTBAL>``): read, never promoted into standard fields;
* amounts with a decimal comma (``-2000,00``), a ``+`` or spaces: read per
  value; ``1,234`` (thousands or decimals?) is refused, never guessed;
* several statements in one file (bank and credit card).

Why not ofxparse alone: ofxparse 0.21 (still a dependency, not used here)
slows down quadratically (its SGML clean-up looks each end tag up in a list
of all of them: 57 s for 20,000 lines), reads UTF-8 declared as 1252 as
``MÃ¼ller`` without a word, fails on a missing ``ENCODING`` with any non-ASCII
byte, on ``ENCODING:ISO-8859-1``, on ``CHARSET:NONE`` (``cpNONE``), on a
header on one line and on an empty ``CURDEF`` (``IndexError``), reads
``1,234`` as 1.234 and shifts ``DTPOSTED`` to UTC (a late-evening posting
lands on the next day).  So this module reads the body with its own linear
tokenizer (one regular-expression pass, an explicit element stack) and maps
the few aggregates a bank statement needs.  Investment statements
(``INVSTMTRS``) are not bank statements and are refused or skipped with a
reason.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import ClassVar

from parsers.base import Balance, ParseError, Statement, StatementLine
from parsers.encoding import decode_bytes

# OFX 1.x header keys, in the order the spec writes them; used to cut a header
# block whose fields are not one per line.
_HEADER_KEYS = (
    "OFXHEADER",
    "DATA",
    "VERSION",
    "SECURITY",
    "ENCODING",
    "CHARSET",
    "COMPRESSION",
    "OLDFILEUID",
    "NEWFILEUID",
)
_HEADER_FIELD = re.compile(r"(" + "|".join(_HEADER_KEYS) + r")\s*:\s*", re.I)
_XML_ENCODING = re.compile(r"<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9_.:-]+)[\"']", re.I)
_OFX_PI_ATTR = re.compile(r"([A-Z]+)\s*=\s*\"([^\"]*)\"", re.I)
_BODY_START = re.compile(r"<OFX\s*>", re.I)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
# Start, end and self-closing tags.  Tag names are OFX element names (letters,
# digits, and the '.' of vendor extensions such as INTU.BID).
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9_.:-]*)[^<>]*?(/?)>")
_END_TAG_NAME = re.compile(r"</\s*([A-Za-z][A-Za-z0-9_.:-]*)\s*>")

# The aggregates a statement is built from.  An element in this set is always
# an aggregate, even in a file that never closes it; any other element is an
# aggregate only when the file closes it somewhere (SGML leaves have no end tag).
_AGGREGATES = frozenset(
    {
        "OFX",
        "SIGNONMSGSRSV1",
        "SIGNONMSGSRSV2",
        "SONRS",
        "STATUS",
        "FI",
        "BANKMSGSRSV1",
        "BANKMSGSRSV2",
        "STMTTRNRS",
        "STMTRS",
        "CREDITCARDMSGSRSV1",
        "CREDITCARDMSGSRSV2",
        "CCSTMTTRNRS",
        "CCSTMTRS",
        "BANKACCTFROM",
        "BANKACCTTO",
        "CCACCTFROM",
        "CCACCTTO",
        "BANKTRANLIST",
        "STMTTRN",
        "PAYEE",
        "CURRENCY",
        "ORIGCURRENCY",
        "LEDGERBAL",
        "AVAILBAL",
        "BALLIST",
        "BAL",
        "INVSTMTMSGSRSV1",
        "INVSTMTTRNRS",
        "INVSTMTRS",
        "INVTRANLIST",
        "INVBANKTRAN",
        "SECLISTMSGSRSV1",
        "PROFMSGSRSV1",
        "SIGNUPMSGSRSV1",
    }
)
_STATEMENT_KINDS = {"STMTRS": "bank", "CCSTMTRS": "credit card"}

# CHARSET header values -> the codec to try after UTF-8.  Never built by string
# concatenation ("cp" + value), never handed raw to codecs.lookup.
_CHARSETS = {
    "1252": "cp1252",
    "NONE": "cp1252",
    "": "cp1252",
    "WINDOWS-1252": "cp1252",
    "CP1252": "cp1252",
    "8859-1": "latin-1",
    "ISO-8859-1": "latin-1",
    "ISO8859-1": "latin-1",
    "88591": "latin-1",
    "LATIN-1": "latin-1",
    "8859-15": "iso8859-15",
    "ISO-8859-15": "iso8859-15",
    "UTF-8": "utf-8",
    "UTF8": "utf-8",
    "CSUNICODE": "utf-8",
}

_AMOUNT_CHARS = re.compile(r"^[0-9.,]*$")
_GROUPED_COMMA = re.compile(r"^\d{1,3}(,\d{3})+$")
_GROUPED_DOT = re.compile(r"^\d{1,3}(\.\d{3})+$")
_SPACES = str.maketrans("", "", " \t\u00a0\u202f")
_DATE = re.compile(r"^\s*(\d{4})(\d{2})(\d{2})")


class _Node:
    """One OFX element: a leaf (``value``) or an aggregate (``children``)."""

    __slots__ = ("name", "value", "children", "start", "end", "line", "is_aggregate")

    def __init__(
        self, name: str, start: int, line: int, is_aggregate: bool, value: str | None = None
    ) -> None:
        self.name = name
        self.value = value
        self.children: list[_Node] = []
        self.start = start
        self.end = start
        self.line = line
        self.is_aggregate = is_aggregate

    def child(self, name: str) -> _Node | None:
        for c in self.children:
            if c.name == name:
                return c
        return None

    def text(self, name: str) -> str | None:
        """Value of the first leaf ``name`` among the children; empty means absent."""
        for c in self.children:
            if c.name == name and not c.is_aggregate:
                return c.value or None
        return None

    def path(self, *names: str) -> str | None:
        node: _Node | None = self
        for n in names[:-1]:
            node = node.child(n) if node else None
        return node.text(names[-1]) if node else None

    def find_all(self, names: frozenset[str] | set[str]) -> Iterator[_Node]:
        """Every descendant whose name is in ``names`` (not descending into matches)."""
        stack = list(reversed(self.children))
        while stack:
            node = stack.pop()
            if node.name in names:
                yield node
            elif node.children:
                stack.extend(reversed(node.children))


def _read_header(prefix: str) -> dict[str, str]:
    """The OFX header fields found in the text before ``<OFX>`` (1.x lines or 2.x PI)."""
    header: dict[str, str] = {}
    pi = re.search(r"<\?OFX(.*?)\?>", prefix, re.I | re.S)
    if pi:
        for key, value in _OFX_PI_ATTR.findall(pi.group(1)):
            header[key.upper()] = value.strip()
    # Headers may sit inside comments or run together on one line: cut on the
    # known key names wherever they are.
    for line in prefix.replace("<!--", "\n").replace("-->", "\n").splitlines():
        matches = list(_HEADER_FIELD.finditer(line))
        for i, m in enumerate(matches):
            end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
            header.setdefault(m.group(1).upper(), line[m.end() : end].strip())
    xml = _XML_ENCODING.search(prefix)
    if xml:
        header["XMLENCODING"] = xml.group(1)
    return header


def _codec_hints(header: dict[str, str]) -> tuple[str | None, list[str], list[str]]:
    """(declared codec, fallback hints, warnings) for ``decode_bytes``."""
    warnings: list[str] = []
    xml_enc = header.get("XMLENCODING", "").upper()
    if xml_enc in ("UTF-8", "UTF8"):
        return "utf-8", ["cp1252"], warnings
    if xml_enc and xml_enc not in ("ASCII", "US-ASCII", "USASCII"):
        codec = _CHARSETS.get(xml_enc, xml_enc.lower())
        return None, [codec, "cp1252"], warnings
    encoding = header.get("ENCODING", "").upper()
    if encoding in ("UTF-8", "UTF8", "UNICODE"):
        return "utf-8", ["cp1252"], warnings
    if encoding and encoding not in ("USASCII", "US-ASCII", "ASCII"):
        codec = _CHARSETS.get(encoding)
        if codec:
            return None, [codec, "cp1252"], warnings
        warnings.append(f"unknown OFX header ENCODING:{header['ENCODING']}; read as UTF-8 or cp1252")
    charset = header.get("CHARSET", "").upper()
    codec = _CHARSETS.get(charset)
    if codec is None:
        warnings.append(f"unknown OFX header CHARSET:{header.get('CHARSET')}; read as UTF-8 or cp1252")
        codec = "cp1252"
    return None, [codec, "cp1252"], warnings


def parse_amount(raw: str) -> Decimal:
    """Read an OFX amount, per value, without guessing.

    >>> parse_amount("-2000,00"), parse_amount("+ 1006,60"), parse_amount("1,234.50")
    (Decimal('-2000.00'), Decimal('1006.60'), Decimal('1234.50'))
    >>> parse_amount("1.234,50"), parse_amount(".5")
    (Decimal('1234.50'), Decimal('0.5'))
    >>> parse_amount("1,234")
    Traceback (most recent call last):
    ...
    ValueError: '1,234' is ambiguous: thousands separator or decimal comma; expected an amount like -1234.50
    """
    s = raw.translate(_SPACES)
    sign = ""
    if s[:1] in "+-" and s:
        sign, s = ("-" if s[0] == "-" else ""), s[1:]
    if not s or not _AMOUNT_CHARS.match(s) or not any(ch.isdigit() for ch in s):
        raise ValueError(f"'{raw}' is not an amount; expected an amount like -1234.50")
    if "," in s and "." in s:
        dec, grp = (".", ",") if s.rfind(".") > s.rfind(",") else (",", ".")
        whole, _, frac = s.rpartition(dec)
        pattern = _GROUPED_COMMA if grp == "," else _GROUPED_DOT
        if not pattern.match(whole) or not frac.isdigit():
            raise ValueError(f"'{raw}' is not an amount; expected an amount like -1234.50")
        s = whole.replace(grp, "") + "." + frac
    elif "," in s:
        if s.count(",") == 1:
            whole, frac = s.split(",")
            if len(frac) == 3 and whole:
                raise ValueError(
                    f"'{raw}' is ambiguous: thousands separator or decimal comma; expected an amount like -1234.50"
                )
            s = whole + "." + frac
        elif _GROUPED_COMMA.match(s):
            s = s.replace(",", "")
        else:
            raise ValueError(f"'{raw}' is not an amount; expected an amount like -1234.50")
    elif s.count(".") > 1:
        if not _GROUPED_DOT.match(s):
            raise ValueError(f"'{raw}' is not an amount; expected an amount like -1234.50")
        s = s.replace(".", "")
    try:
        return Decimal(sign + s)
    except InvalidOperation:
        raise ValueError(f"'{raw}' is not an amount; expected an amount like -1234.50") from None


def parse_date(raw: str | None) -> date | None:
    """The calendar date an OFX date-time starts with, as the bank wrote it (no shift to UTC).

    ``None`` for an absent or all-zero value; ``ValueError`` for anything else
    that is not ``YYYYMMDD...``.

    >>> parse_date("20231231230000.000[-5:EST]")
    datetime.date(2023, 12, 31)
    >>> parse_date("00000000") is None
    True
    """
    if raw is None or not raw.strip() or set(raw.strip()) <= {"0"}:
        return None
    m = _DATE.match(raw)
    if not m:
        raise ValueError(f"'{raw}' is not an OFX date; expected YYYYMMDD[HHMMSS]")
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        raise ValueError(f"'{raw}' is not a valid date; expected YYYYMMDD[HHMMSS]") from None


class _Tree:
    """Linear SGML/XML tokenizer: one regex pass, an explicit element stack.

    A start tag followed by text is a leaf (its end tag, if any, is skipped).
    A start tag followed directly by another tag is an aggregate when it is
    one of the statement aggregates or when the file closes it somewhere
    (SGML leaves are never closed), else an empty leaf.  An end tag closes
    the nearest open element of that name and everything opened inside it;
    an unknown element that was never closed turns out to have been an empty
    leaf and hands its would-be children back to its parent.
    """

    def __init__(self, body: str, first_line: int) -> None:
        self.root = _Node("#ROOT", 0, first_line, True)
        closed = {n.upper() for n in _END_TAG_NAME.findall(body)}
        tokens = list(_TAG.finditer(body))
        stack = [self.root]
        line = first_line
        last = 0
        i = 0
        n = len(tokens)
        while i < n:
            m = tokens[i]
            start = m.start()
            line += body.count("\n", last, start)
            last = start
            name = m.group(2).upper()
            if m.group(1):  # end tag
                self._close(stack, name, start, m.end())
                i += 1
                continue
            text_end = tokens[i + 1].start() if i + 1 < n else len(body)
            value = body[m.end() : text_end].strip()
            parent = stack[-1]
            if m.group(3):  # <TAG/>
                parent.children.append(_Node(name, start, line, False, None))
                i += 1
                continue
            if value:
                if "&" in value:
                    value = html.unescape(value)
                leaf = _Node(name, start, line, False, value)
                parent.children.append(leaf)
                i += 1
                if i < n and tokens[i].group(1) and tokens[i].group(2).upper() == name:
                    i += 1  # the leaf's own optional end tag
                continue
            nxt = tokens[i + 1] if i + 1 < n else None
            if nxt is not None and nxt.group(1) and nxt.group(2).upper() == name:
                parent.children.append(_Node(name, start, line, False, None))  # <X></X>
                i += 2
                continue
            if name in _AGGREGATES or name in closed:
                if parent.name == name and name != "#ROOT":
                    # Aggregates never nest in themselves: a second <STMTTRN>
                    # while one is open means the first lacked its end tag.
                    self._close(stack, name, start, start)
                    parent = stack[-1]
                node = _Node(name, start, line, True)
                parent.children.append(node)
                stack.append(node)
            else:
                parent.children.append(_Node(name, start, line, False, None))
            i += 1
        while len(stack) > 1:
            self._pop(stack, len(body))

    @staticmethod
    def _pop(stack: list[_Node], end: int) -> None:
        """Close the innermost element implicitly (an ancestor's end tag or the end of the file)."""
        node = stack.pop()
        node.end = end
        if node.name in _AGGREGATES:
            return
        # An unknown element that is never closed here was an empty SGML leaf
        # (``<MEMO>`` with nothing after it): what followed it are its siblings.
        stack[-1].children.extend(node.children)
        node.children = []
        node.is_aggregate = False

    def _close(self, stack: list[_Node], name: str, start: int, end: int) -> None:
        for depth in range(len(stack) - 1, 0, -1):
            if stack[depth].name == name:
                while len(stack) - 1 > depth:
                    self._pop(stack, start)
                node = stack.pop()
                node.end = end
                return
        # An end tag with nothing open of that name: a leaf's end tag after a
        # value we already took, or noise.  Nothing to do.


class OFXParser:
    """OFX 1.x/2.x (and QFX) bank and credit-card statements."""

    name: ClassVar[str] = "ofx"

    def detect(self, head: bytes) -> bool:
        """An OFX header (``OFXHEADER:`` or ``OFXHEADER="200"``) or an ``<OFX>`` element."""
        sample = head[:8192]
        if re.search(rb"OFXHEADER\s*[:=]", sample, re.I):
            return True
        return re.search(rb"<OFX\s*>", head, re.I) is not None

    def parse(self, path: Path) -> Iterator[Statement]:
        """Read every bank and credit-card statement in the file."""
        data = Path(path).read_bytes()
        prefix_raw = data[:16384].decode("latin-1")
        m = _BODY_START.search(prefix_raw)
        header = _read_header(prefix_raw[: m.start()] if m else prefix_raw)
        declared, hints, warnings = _codec_hints(header)
        text, _encoding = decode_bytes(data, declared=declared, hints=hints)
        if "\n" not in text and "\r" in text:
            text = text.replace("\r", "\n")  # old Mac line ends: count lines on something
        body_match = _BODY_START.search(text)
        if not body_match:
            raise ParseError("no <OFX> element found; expected an OFX/QFX document")
        start = body_match.start()
        first_line = text.count("\n", 0, start) + 1
        # Comments (they may hide whole elements) become blank, keeping line numbers.
        body = _COMMENT.sub(lambda c: "\n" * c.group().count("\n"), text[start:])
        tree = _Tree(body, first_line)
        yield from self._statements(tree.root, body, warnings)

    # --- mapping -----------------------------------------------------------------

    def _statements(self, root: _Node, body: str, file_warnings: list[str]) -> Iterator[Statement]:
        wanted = frozenset({"STMTTRNRS", "CCSTMTTRNRS", "INVSTMTTRNRS", "STMTRS", "CCSTMTRS", "INVSTMTRS"})
        responses = list(root.find_all(wanted))
        statements: list[Statement] = []
        errors: list[str] = []
        skipped: list[str] = []
        for resp in responses:
            if resp.name.endswith("TRNRS"):
                stmt_node = next(resp.find_all(frozenset({"STMTRS", "CCSTMTRS", "INVSTMTRS"})), None)
                status = resp.child("STATUS")
                severity = (status.text("SEVERITY") or "").upper() if status else ""
                if stmt_node is None:
                    if severity == "ERROR" or (status and (status.text("CODE") or "0") != "0"):
                        code = status.text("CODE") if status else None
                        msg = status.text("MESSAGE") if status else None
                        errors.append(" ".join(x for x in (f"code {code}" if code else None, msg) if x))
                    continue
                trnuid = resp.text("TRNUID")
            else:
                stmt_node, trnuid = resp, None
            if stmt_node.name == "INVSTMTRS":
                acct = stmt_node.path("INVACCTFROM", "ACCTID")
                skipped.append(f"investment statement for account {acct}" if acct else "investment statement")
                continue
            statements.append(self._statement(stmt_node, trnuid, body))
        if not statements:
            if errors:
                raise ParseError(f"the bank sent an error instead of a statement ({'; '.join(errors)})")
            sonrs = next(root.find_all(frozenset({"SONRS"})), None)
            status = sonrs.child("STATUS") if sonrs else None
            if status is not None and (status.text("SEVERITY") or "").upper() == "ERROR":
                detail = " ".join(x for x in (f"code {status.text('CODE')}", status.text("MESSAGE")) if x)
                raise ParseError(f"the bank refused the sign-on and sent no statement ({detail})", sonrs.line)
            if skipped:
                raise ParseError(
                    "OFX investment statements (INVSTMTRS) are not supported; expected a bank or credit-card statement"
                )
            raise ParseError(
                "no bank or credit-card statement (STMTRS/CCSTMTRS) in this OFX file"
                " (it holds only a sign-on, profile or account-list response)"
            )
        extra = list(file_warnings)
        extra += [f"skipped {s}: OFX investment statements are not supported" for s in skipped]
        extra += [
            f"the bank reported an error for one request ({e}); nothing of it was imported" for e in errors
        ]
        statements[0].warnings[:0] = extra
        yield from statements

    def _statement(self, node: _Node, trnuid: str | None, body: str) -> Statement:
        kind = _STATEMENT_KINDS[node.name]
        warnings: list[str] = []
        acct_node = node.child("BANKACCTFROM") or node.child("CCACCTFROM")
        acctid = acct_node.text("ACCTID") if acct_node else None
        if not acctid:
            raise ParseError(
                f"{kind} statement without an account number; expected <{'BANKACCTFROM' if kind == 'bank' else 'CCACCTFROM'}>"
                "<ACCTID>",
                node.line,
            )
        account = _account(acct_node) if acct_node else acctid
        curdef = (node.text("CURDEF") or "").strip().upper() or None
        tranlists = [c for c in node.children if c.name == "BANKTRANLIST"]
        transactions = [t for tl in tranlists for t in tl.children if t.name == "STMTTRN"]
        currency = curdef
        if currency is None:
            seen = {_txn_currency(t) for t in transactions} - {None}
            if len(seen) == 1:
                currency = seen.pop()
            else:
                warnings.append("empty CURDEF and no single transaction currency: statement currency unknown")
        lines = [self._line(t, currency, body) for t in transactions]

        dtstart = tranlists[0].text("DTSTART") if tranlists else None
        dtend = tranlists[-1].text("DTEND") if tranlists else None
        start_d = _soft_date(dtstart, "DTSTART", warnings)
        end_d = _soft_date(dtend, "DTEND", warnings)
        statement_id = None
        if start_d and end_d:
            statement_id = f"{start_d:%Y%m%d}-{end_d:%Y%m%d}"
        elif trnuid and trnuid not in ("0", "1"):
            statement_id = trnuid

        closing = None
        ledger = node.child("LEDGERBAL")
        if ledger is not None:
            raw_bal = ledger.text("BALAMT")
            if raw_bal:
                try:
                    amount = parse_amount(raw_bal)
                except ValueError as exc:
                    warnings.append(f"line {ledger.line}: LEDGERBAL {exc}; no closing balance taken")
                else:
                    as_of = _soft_date(ledger.text("DTASOF"), "LEDGERBAL DTASOF", warnings)
                    closing = Balance(amount, as_of, currency)
        opening = None
        # OFX carries no opening balance.  When the closing balance is dated
        # within the transaction list's period, the list holds every entry up
        # to it, so opening = closing - sum(lines) is a fact, not a guess.
        if closing is not None and closing.date and end_d and closing.date <= end_d:
            total = sum((ln.amount for ln in lines), Decimal(0))
            opening = Balance(closing.amount - total, start_d, currency)
        return Statement(
            account=account,
            currency=currency,
            statement_id=statement_id,
            sequence=None,
            opening=opening,
            closing=closing,
            lines=lines,
            warnings=warnings,
            kind="ofx" if kind == "bank" else "ofx-creditcard",
        )

    def _line(self, t: _Node, currency: str | None, body: str) -> StatementLine:
        raw_amount = t.text("TRNAMT")
        if raw_amount is None:
            raise ParseError("transaction without TRNAMT; expected <TRNAMT> with the amount", t.line)
        try:
            amount = parse_amount(raw_amount)
        except ValueError as exc:
            raise ParseError(f"TRNAMT {exc}", _leaf_line(t, "TRNAMT")) from None
        raw_posted = t.text("DTPOSTED")
        try:
            booked = parse_date(raw_posted)
        except ValueError as exc:
            raise ParseError(f"DTPOSTED {exc}", _leaf_line(t, "DTPOSTED")) from None
        if booked is None:
            raise ParseError("transaction without a posting date; expected <DTPOSTED>YYYYMMDD", t.line)
        value_date = None
        for tag in ("DTAVAIL", "DTUSER"):
            try:
                value_date = parse_date(t.text(tag))
            except ValueError:
                value_date = None  # a bad optional date is dropped, the booking date stands
            if value_date:
                break
        payee = t.child("PAYEE")
        name = t.text("NAME") or (payee.text("NAME") if payee else None)
        to = t.child("BANKACCTTO") or t.child("CCACCTTO")
        cp_account = to.text("ACCTID") if to else None
        trntype = t.text("TRNTYPE")
        return StatementLine(
            booking_date=booked,
            amount=amount,
            currency=_own_currency(t) or currency,
            value_date=value_date,
            bank_reference=t.text("FITID"),
            counterparty_name=name,
            counterparty_account=cp_account,
            remittance=t.text("MEMO"),
            bank_code=trntype.strip().upper() if trntype else None,
            raw=body[t.start : t.end].strip(),
            source_line=t.line,
        )


def _leaf_line(node: _Node, name: str) -> int:
    for c in node.children:
        if c.name == name:
            return c.line
    return node.line


def _account(acct: _Node) -> str:
    """ACCTID, preceded by BANKID (and BRANCHID) where those identify the account.

    An IBAN or a card number identifies the account on its own; a US/CA/BR
    account number is only unique within its bank (routing number / branch).
    """
    acctid = (acct.text("ACCTID") or "").strip()
    compact = acctid.replace(" ", "")
    if acct.name.startswith("CC") or re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", compact):
        return acctid
    parts = [acct.text("BANKID"), acct.text("BRANCHID"), acctid]
    return " ".join(p.strip() for p in parts if p and p.strip())


def _own_currency(t: _Node) -> str | None:
    # <CURRENCY> means TRNAMT is in that currency; <ORIGCURRENCY> means it was
    # converted into CURDEF from that one (OFX 2.1.1, 5.2), so it does not
    # change the currency of the amount.
    cur = t.child("CURRENCY")
    if cur is not None:
        sym = cur.text("CURSYM")
        return sym.strip().upper() if sym else None
    return None


def _txn_currency(t: _Node) -> str | None:
    for tag in ("CURRENCY", "ORIGCURRENCY"):
        cur = t.child(tag)
        if cur is not None and cur.text("CURSYM"):
            return cur.text("CURSYM").strip().upper()  # type: ignore[union-attr]
    return None


def _soft_date(raw: str | None, what: str, warnings: list[str]) -> date | None:
    """A date whose absence or oddity costs a warning, never the file."""
    if raw is None:
        return None
    try:
        value = parse_date(raw)
    except ValueError as exc:
        warnings.append(f"{what} {exc}; left empty")
        return None
    if value is None and raw.strip():
        warnings.append(f"{what} '{raw}' is an all-zero date; left empty")
    return value
