"""Split the MT940 ``:86:`` "information to account owner" field into its parts.

SWIFT leaves ``:86:`` (6 lines of 65 characters) free; banks fill it in three
ways, and this module reads all three into one :class:`Details` record:

* **German (DK / ZKA) style** ``GVC?00..?10..?20..?29?30..?31..?32..?33..?34..?60..?63``:
  a 3-digit business transaction code (GVC), then ``?NN`` sub-fields: ``?00``
  posting text, ``?20``-``?29`` and ``?60``-``?63`` purpose in 27-character
  pieces, ``?30`` BLZ/BIC, ``?31`` account, ``?32``/``?33`` name (``?38`` IBAN
  in some Polish banks).  Inside the purpose, SEPA payments carry keywords:
  ``EREF+`` end-to-end id, ``KREF+`` customer reference, ``MREF+`` mandate,
  ``CRED+`` creditor id, ``SVWZ+`` remittance, ``ABWA+`` ultimate debtor ...
  Triodos writes ``>`` instead of ``?``.
* **Dutch / SWIFT-structured style** ``/TRTP/SEPA OVERBOEKING/IBAN/NL..../BIC/..../NAME/..../REMI/..../EREF/....``
  (ABN AMRO, ING, Rabobank, Knab, SNS): ``/CODE/value`` pairs where a value may
  itself contain ``/`` (``t/m``), so only known codes split.  ING packs the
  counterparty as ``/CNTP/account/BIC/name/city/`` and the remittance as
  ``/REMI/USTD//text/`` or ``/REMI/STRD/CUR/reference/``.
* **Free text**: kept whole as the remittance.

Line breaks: banks wrap at 65 characters, in the middle of a word, so a full
line is joined to the next without a space, a shorter line (a word wrap, or a
line padded with blanks) with one; a ``-`` alone on a line joins both sides.  The German style ignores line breaks
altogether (its ``?NN`` markers carry the structure), and joins its 27-character
purpose pieces by the same rule.

>>> d = parse_details([":86:166?00GUTSCHRIFT?20EREF+E2E-1?21SVWZ+RE 4711?32Mueller GmbH"])
>>> d.gvc, d.end_to_end_id, d.remittance, d.counterparty_name
('166', 'E2E-1', 'RE 4711', 'Mueller GmbH')
>>> d = parse_details([":86:/TRTP/SEPA OVERBOEKING/IBAN/NL91ABNA0417164300/NAME/J. Jansen/REMI/Factuur 12/3/EREF/NOTPROVIDED"])
>>> d.counterparty_account, d.counterparty_name, d.remittance, d.end_to_end_id
('NL91ABNA0417164300', 'J. Jansen', 'Factuur 12/3', None)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from parsers.references import first_rf_reference

__all__ = ["Details", "find_creditor_reference", "join_wrapped", "parse_details", "parse_non_swift"]

#: SWIFT's line width: a line this long was cut by the bank, not ended by it.
LINE_WIDTH = 65
#: Width of one German ``?20``..``?29`` purpose piece.
PIECE_WIDTH = 27


@dataclass(slots=True)
class Details:
    """What one ``:86:`` says about a transaction; ``None`` where it says nothing."""

    style: str = "free"  # "german", "dutch", "free"
    gvc: str | None = None
    posting_text: str | None = None
    counterparty_name: str | None = None
    counterparty_account: str | None = None
    counterparty_bic: str | None = None
    ultimate_debtor: str | None = None
    remittance: str | None = None
    creditor_reference: str | None = None
    end_to_end_id: str | None = None
    mandate_reference: str | None = None
    customer_reference: str | None = None


def _clean(text: str | None) -> str | None:
    """Collapse runs of blanks; empty becomes None."""
    if not text:
        return None
    text = " ".join(text.split())
    return text or None


def join_wrapped(lines: list[str], prefix: str = "") -> str:
    """Join the lines of one field, undoing the bank's 65-character wrapping.

    ``lines[0]`` may still carry the tag (``:86:``); ``prefix`` is removed from
    it but counts towards its width, as it did on the bank's line.

    >>> join_wrapped([":86:" + "A" * 61, "BC", "DEF"], ":86:")
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABC DEF'
    """
    out: list[str] = []
    full = True  # the first line starts the text: nothing to separate
    for i, line in enumerate(lines):
        text = line.rstrip()
        width = len(text)
        if i == 0 and prefix and text.startswith(prefix):
            text = text[len(prefix) :]
        if not text.strip():
            # a blank (or blank-padded) line ends a paragraph: what follows is a new word
            full = False
            continue
        if text == "-":
            # a hyphen alone on a line was cut out of a word ('MND' / '-' / 'EV01')
            out.append("-")
            full = True
            continue
        if out and not full and not out[-1].endswith("/") and not text.startswith("/"):
            out.append(" ")
        out.append(text)
        full = width >= LINE_WIDTH
    return "".join(out)


def _join_pieces(pieces: list[str]) -> str:
    """Join German purpose pieces: a full 27-character piece runs on into the next.

    A longer piece means the bank ignores the 27-character layout, so its
    pieces are separate lines of text.

    >>> _join_pieces(["EREF+123/123/12345-----L110", "1234567890123", "Miete"])
    'EREF+123/123/12345-----L1101234567890123 Miete'
    """
    joined = "".join([piece if len(piece) == PIECE_WIDTH else piece + " " for piece in pieces])
    return " ".join(joined.split())


# --- creditor references (ISO 11649 "RF" references) ---------------------------------



def find_creditor_reference(text: str | None) -> str | None:
    """The first valid ISO 11649 ``RF`` creditor reference in ``text``, compact and upper case.

    >>> find_creditor_reference("Invoice RF18 5390 0754 7034 thanks")
    'RF18539007547034'
    >>> find_creditor_reference("RF19539007547034") is None  # wrong check digits
    True
    """
    return first_rf_reference(text)


# --- German ?NN style ------------------------------------------------------------------

_GERMAN_START = re.compile(r"\s*(?:(\d{3})\s?([?>])|([?]))\d\d")
_SEPA_KEYWORDS = (
    "EREF", "KREF", "MREF", "CRED", "DEBT", "COAM", "OAMT", "SVWZ", "ABWA", "ABWE",
    "IBAN", "BIC", "PURP", "MDAT", "SQTP", "ORCR", "ORMR", "DDAT",
)  # fmt: skip
_SPLIT_CACHE: dict[str, re.Pattern[str]] = {}
# the ?NN mark after a full 27-character piece (the marker first: the regex engine then skips fast)
_RUN_ON = re.compile(r"(?<=\?[26]\d[^?]{27})\?[26]\d")
_MARK = re.compile(r"\?[26]\d")
_BIC = re.compile(r"[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?$")
_NOTPROVIDED = {"NOTPROVIDED", "NONREF", "NOT PROVIDED"}


def _ref(value: str | None) -> str | None:
    value = _clean(value)
    if value is None or value.upper() in _NOTPROVIDED:
        return None
    return value


# The layout nearly every German bank writes, in order: one regex call reads it all.
_GERMAN_FAST = re.compile(
    r"\s*(\d{3})\s?"
    r"(?:\?00([^?]*))?"
    r"(?:\?10[^?]*)?"
    r"((?:\?2\d[^?]*)*)"
    r"(?:\?30([^?]*))?"
    r"(?:\?31([^?]*))?"
    r"(?:\?32([^?]*))?"
    r"(?:\?33([^?]*))?"
    r"(?:\?34[^?]*)?"
    r"((?:\?6[0-3][^?]*)*)"
)


def _parse_german(text: str, details: Details) -> bool:
    """Read the ``?NN`` sub-fields; False when ``text`` is not in that style after all."""
    fast = _GERMAN_FAST.fullmatch(text)
    if fast is not None:
        gvc, posting, p2x, p30, p31, p32, p33, p6x = fast.groups()
        details.style = "german"
        details.gvc = gvc
        marks = p2x + p6x if p6x else p2x
        # a full 27-character piece runs on into the next; any other ?NN mark is a space
        purpose = " ".join(_MARK.sub(" ", _RUN_ON.sub("", marks)).split()) if marks else ""
        if p33 is None:
            name = " ".join(p32.split()) if p32 else ""
        elif p32 is None:
            name = " ".join(p33.split())
        else:
            name = " ".join((p32 + p33 if len(p32) == PIECE_WIDTH else f"{p32} {p33}").split())
        _german_result(details, posting, purpose, name, p30, p31, None)
        return True
    m = _GERMAN_START.match(text)
    if m is None:
        return False
    details.style = "german"
    details.gvc = m.group(1)
    sep = m.group(2) or m.group(3)
    splitter = _SPLIT_CACHE.get(sep)
    if splitter is None:
        splitter = _SPLIT_CACHE[sep] = re.compile(re.escape(sep) + r"(\d\d)")
    parts = splitter.split(text[m.start(2) if m.group(2) else m.start(3) :])
    # parts = ['', code, value, code, value, ...]
    purpose = []
    name = []
    posting = p30 = p31 = p38 = None
    for code, value in zip(parts[1::2], parts[2::2], strict=True):
        c = code[0]
        if c == "2" or c == "6":
            purpose.append(value)
        elif c == "3":
            if code == "32" or code == "33":
                name.append(value)
            elif code == "31":
                p31 = value
            elif code == "30":
                p30 = value
            elif code == "38":
                p38 = value
            # ?34 text key extension, ?35-?37: nothing for matching
        elif code == "00":
            posting = value
        elif code != "10":  # ?10 primanota is bank-internal; unknown codes are kept as text
            purpose.append(value)
    _german_result(details, posting, _join_pieces(purpose), _join_pieces(name), p30, p31, p38)
    return True


def _german_result(
    details: Details,
    posting: str | None,
    purpose: str,
    name: str,
    p30: str | None,
    p31: str | None,
    p38: str | None,
) -> None:
    details.posting_text = posting  # as written: not needed for matching
    if p30:
        bic = p30.strip()
        # ?30 is a BIC in SEPA entries, a German bank code (BLZ) in older ones
        if _BIC.match(bic):
            details.counterparty_bic = bic
    account = (p38 or p31 or "").replace(" ", "")  # ?38: IBAN (Polish banks), ?31 may be a local number
    if account:
        details.counterparty_account = account
    if name:
        details.counterparty_name = name
    if purpose:
        if "+" in purpose:
            _parse_sepa_purpose(purpose, details)
        else:
            details.remittance = purpose


_SEPA_SPLIT = re.compile(r"(" + "|".join(_SEPA_KEYWORDS) + r") ?\+")


def _sepa_split(purpose: str) -> list[str]:
    """Split at the SEPA keywords: ``[text, KEY, value, KEY, value, ...]``.

    >>> _sepa_split("EREF+E2E-1 SVWZ+RE 4711 KREF +K1")
    ['', 'EREF', 'E2E-1 ', 'SVWZ', 'RE 4711 ', 'KREF', 'K1']
    """
    return _SEPA_SPLIT.split(purpose)


def _parse_sepa_purpose(purpose: str, details: Details) -> None:
    """Read the SEPA keywords (``EREF+`` ...) out of a German purpose text."""
    parts = _sepa_split(purpose)
    if len(parts) == 1:
        details.remittance = purpose or None
        return
    lead = parts[0].strip()
    text = [lead] if lead else []
    for i in range(1, len(parts), 2):
        key = parts[i]
        value = parts[i + 1].strip()
        if not value:
            continue
        if key == "SVWZ":
            text.append(value)
        elif key == "EREF":
            if value.upper() not in _NOTPROVIDED:
                details.end_to_end_id = value
        elif key == "KREF":
            if value.upper() not in _NOTPROVIDED:
                details.customer_reference = value
        elif key == "MREF":
            details.mandate_reference = value
        elif key == "ABWA":
            details.ultimate_debtor = value
        elif key == "IBAN":
            if details.counterparty_account is None:
                details.counterparty_account = value.replace(" ", "")
        elif key == "BIC":
            if details.counterparty_bic is None:
                details.counterparty_bic = value
        # CRED, DEBT, COAM, OAMT, PURP, ABWE, ...: not needed for matching
    details.remittance = " ".join(text) or None


# --- Dutch /CODE/ style ----------------------------------------------------------------

_DUTCH_CODES = (
    "TRTP", "IBAN", "BBAN", "BIC", "NAME", "REMI", "EREF", "ORDP", "BENM", "ADDR", "CNTP",
    "ISDT", "CSID", "MARF", "PREF", "RTRN", "PURP", "ULTC", "ULTD", "ULTB", "SVCL", "IREF",
    "OCMT", "CHGS", "EXCH", "TRCD", "ACCW", "BUSP", "CDTRREFTP", "CDTRREF",
)  # fmt: skip
_DUTCH_START = re.compile(r"\s*/(?:" + "|".join(_DUTCH_CODES) + r")/")
_DUTCH_TOKEN = re.compile(r"/(" + "|".join(_DUTCH_CODES) + r")(?=/)")


def _parse_dutch(text: str, details: Details) -> None:
    details.style = "dutch"
    tokens = list(_DUTCH_TOKEN.finditer(text))
    party = "party"
    remittance: list[str] = []
    for i, m in enumerate(tokens):
        code = m.group(1)
        end = tokens[i + 1].start() if i + 1 < len(tokens) else len(text)
        raw = text[m.end() + 1 : end]
        value = raw.strip().strip("/").strip()
        if code in ("BENM", "ORDP"):
            party = "party"
            if value and details.counterparty_account is None:
                details.counterparty_account = _clean(value.split("/")[0])
        elif code == "ULTD":
            party = "ultd"
            if value:
                details.ultimate_debtor = _clean(value.split("/")[0])
        elif code in ("ULTC", "ULTB"):
            party = "ultc"
        elif code == "NAME":
            if party == "ultd":
                details.ultimate_debtor = details.ultimate_debtor or _clean(value)
            elif party == "party" and details.counterparty_name is None:
                details.counterparty_name = _clean(value)
        elif code in ("IBAN", "BBAN"):
            if party == "party" and details.counterparty_account is None:
                details.counterparty_account = _clean(value.replace(" ", ""))
        elif code == "BIC":
            if party == "party" and details.counterparty_bic is None:
                details.counterparty_bic = _clean(value)
        elif code == "CNTP":
            # account/BIC/name/city
            fields = raw.strip().split("/")
            if len(fields) > 0 and fields[0].strip():
                details.counterparty_account = fields[0].strip().replace(" ", "")
            if len(fields) > 1 and fields[1].strip():
                details.counterparty_bic = fields[1].strip()
            if len(fields) > 2 and fields[2].strip():
                details.counterparty_name = _clean(fields[2])
        elif code == "REMI":
            _dutch_remittance(value, details, remittance)
        elif code == "EREF":
            details.end_to_end_id = _ref(value)
        elif code == "MARF":
            details.mandate_reference = _ref(value)
        elif code == "TRTP":
            details.posting_text = _clean(value)
    if remittance:
        details.remittance = _clean(" ".join(remittance))


def _dutch_remittance(value: str, details: Details, out: list[str]) -> None:
    """``/REMI/`` holds free text, ``USTD//text`` or ``STRD/CUR|ISO/reference``."""
    head, _, rest = value.partition("/")
    if head == "USTD":
        text = rest.strip().strip("/").strip()
        if text:
            out.append(text)
    elif head == "STRD":
        issuer, _, ref = rest.lstrip("/").partition("/")
        ref = ref.strip().strip("/").strip() or issuer.strip()
        if ref:
            details.creditor_reference = ref.replace(" ", "")
    elif value:
        out.append(value)


# --- entry point -------------------------------------------------------------------------

_KNAB_ACCOUNT = re.compile(r"REK:\s*([A-Z]{2}\d\d[A-Z0-9]{10,30})\s*/\s*NAAM:\s*(.+)$")


_BREAK_86 = re.compile(r"[ \t\r]*\n(?::86:)?")


def parse_details(field: str | list[str], prefix: str = ":86:") -> Details:
    """Read one transaction's ``:86:`` field(s) into :class:`Details`.

    ``field`` is the text as in the file, from the tag on (a bank may send
    several ``:86:`` for one entry), or its lines.  Never raises: text that
    fits no structure is kept as the remittance.
    """
    details = Details()
    if isinstance(field, list):
        field = "\n".join(field)
    body = field[len(prefix) :] if field.startswith(prefix) else field
    if _GERMAN_START.match(body):
        # The ?NN markers carry the structure; line breaks mean nothing (DK standard).
        if "\n" not in body:
            text = body.rstrip()
        elif " \n" in body or "\t\n" in body or "\n:" in body:
            text = _BREAK_86.sub("", body).rstrip()
        else:
            text = body.replace("\n", "").rstrip()
        if _parse_german(text, details):
            details.creditor_reference = find_creditor_reference(details.remittance)
            return details
    lines = field.split("\n")
    text = _join_fields(lines, prefix)
    if _DUTCH_START.match(text):
        _parse_dutch(text, details)
        if details.creditor_reference is None:
            details.creditor_reference = find_creditor_reference(details.remittance)
        return details
    details.remittance = _clean(text)
    if details.remittance and "REK:" in details.remittance:
        knab = _KNAB_ACCOUNT.search(details.remittance)
        if knab:
            details.counterparty_account = knab.group(1)
            details.counterparty_name = _clean(knab.group(2))
    details.creditor_reference = find_creditor_reference(details.remittance)
    return details


def _join_fields(lines: list[str], prefix: str) -> str:
    """Join one or more ``:86:`` fields; each field is unwrapped on its own."""
    if sum(1 for line in lines if line.startswith(prefix)) <= 1:
        return join_wrapped(lines, prefix)
    fields: list[list[str]] = []
    for line in lines:
        if line.startswith(prefix) or not fields:
            fields.append([line])
        else:
            fields[-1].append(line)
    return " ".join(j for j in (join_wrapped(f, prefix).strip() for f in fields) if j)


# --- :NS: (FinTS "non-SWIFT") transaction fields ------------------------------------

_NS_LINE = re.compile(r"(\d\d)(.*)")


def parse_non_swift(lines: list[str], prefix: str = ":NS:") -> Details:
    """Read a transaction's ``:NS:`` lines (FinTS / some East-European banks).

    Each line is a 2-digit code and text: ``01``-``14`` purpose, ``15``/``16``
    the counterparty's name, ``17`` the posting text.

    >>> d = parse_non_swift([":NS:01Rechnung 4711", "15Mueller GmbH", "17Gutschrift"])
    >>> d.remittance, d.counterparty_name, d.posting_text
    ('Rechnung 4711', 'Mueller GmbH', 'Gutschrift')
    """
    details = Details(style="non-swift")
    purpose: list[str] = []
    name: list[str] = []
    for i, line in enumerate(lines):
        text = line[len(prefix) :] if i == 0 and line.startswith(prefix) else line
        m = _NS_LINE.match(text.rstrip())
        if m is None:
            continue
        code, value = m.group(1), m.group(2)
        if "01" <= code <= "14":
            purpose.append(value)
        elif code in ("15", "16"):
            name.append(value)
        elif code == "17":
            details.posting_text = _clean(value)
    details.remittance = _clean(_join_pieces(purpose)) if purpose else None
    details.counterparty_name = _clean(_join_pieces(name)) if name else None
    details.creditor_reference = find_creditor_reference(details.remittance)
    return details
