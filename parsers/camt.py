"""ISO 20022 bank-to-customer cash management: camt.053, camt.052, camt.054.

The standard: ISO 20022 message definitions ``camt.053.001.xx`` (statement,
``BkToCstmrStmt/Stmt``), ``camt.052.001.xx`` (intraday account report,
``BkToCstmrAcctRpt/Rpt``) and ``camt.054.001.xx`` (debit/credit notification,
``BkToCstmrDbtCdtNtfctn/Ntfctn``), https://www.iso20022.org/iso-20022-message-definitions.
Every version from ``.001.01`` to ``.001.10`` is read the same way: elements are
matched on their local names, so an odd namespace (a bank's own URN, a
prefix, a typo) or none at all makes no difference.

What one statement line is:

* one record per booked ``Ntry``; when an entry is a batch (several
  ``NtryDtls/TxDtls``) one record per ``TxDtls``, with the amount of each
  transaction (``TxDtls/Amt``, else ``TxDtls/AmtDtls/TxAmt/Amt``) -- but only
  when every ``TxDtls`` states an amount in the entry's currency and the signed
  amounts add up to the entry's amount.  Otherwise (no individual amounts,
  another currency, a sum that does not add up) the entry stays ONE record with
  the entry's amount, its transactions' texts and references merged into it,
  and a warning on the statement says so: splitting would invent amounts.
* the sign comes from ``CdtDbtInd`` alone (``CRDT`` +, ``DBIT`` -).  ISO 20022
  defines ``RvslInd`` as "the entry is the result of a reversal": a reversal
  of a credit is booked with ``CdtDbtInd`` ``DBIT`` and ``RvslInd`` true, so
  ``CdtDbtInd`` already is the direction of the money on the account and
  inverting it again would turn a returned payment into a second payment.  The
  corpus agrees (OCA's expected output for ``test-camt053``: a ``DBIT`` entry
  with ``RvslInd`` true is -564.05 and -100.00).  ``RvslInd`` stays in ``raw``.
* only booked entries are statement lines: an entry whose ``Sts`` is
  ``PDNG``/``INFO``/``FUTR`` (camt.052 intraday reports, camt.054 advices) is
  not money on the account yet and would be counted twice when the booked
  entry arrives in the camt.053; it is skipped and counted in a warning.
* ``bank_reference`` is ``Ntry/AcctSvcrRef``, else ``TxDtls/Refs/AcctSvcrRef``,
  else ``Ntry/NtryRef`` (the contract's order); ``EndToEndId`` ``NOTPROVIDED``
  is no id.  Party names are read in both shapes: ``Dbtr/Nm`` (up to .07)
  and ``Dbtr/Pty/Nm`` (.08 on); for a credit the counterparty is the
  debtor, for a debit the creditor, and for a reversal the party of the
  payment it reverses.  Dates are ``Dt`` or the date part of ``DtTm`` as the
  bank wrote it (no time zone conversion); an entry without any date (some
  camt.054 advices) takes the date its report was created, with a warning.
* balances: opening ``OPBD`` else ``PRCD``; closing ``CLBD`` else the last
  ``ITBD`` (and, for camt.052 reports only, ``CLAV``).

Safety: a file with a ``DOCTYPE`` (the only place an ``ENTITY`` can be
declared: XML bombs, external entities) is refused before lxml sees it, and
lxml runs with entity resolution, DTD loading and network access off.  The
file is read with ``iterparse`` one ``Ntry`` at a time and every entry is freed
once read, so ``Statement.lines`` is a lazy stream and a file of a million
entries is never held whole.

A zip archive of camt files (banks' download portals produce them) is read
member by member, in archive order.
"""

from __future__ import annotations

import codecs
import re
import struct
import sys
import zipfile
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import IO, ClassVar

from lxml import etree

from parsers.base import Balance, ParseError, Statement, StatementLine

RAW_LIMIT = 4000
PROLOG_LIMIT = 1 << 20

_KIND_BY_ELEMENT = {"Stmt": "camt.053", "Rpt": "camt.052", "Ntfctn": "camt.054"}
_ROOT_RE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?BkToCstmr(?:Stmt|AcctRpt|DbtCdtNtfctn)[\s>/V]")
_AMOUNT_RE = re.compile(r"\d{1,18}(?:\.\d{1,18})?\Z")
_CENT = Decimal("0.01")
_BOOKED = frozenset({"BOOK"})
_NO_ID = frozenset({"NOTPROVIDED", "NONREF", ""})
_FAMILY_CODES = frozenset({"Cd", "SubFmlyCd"})
_ID_CHOICES = frozenset({"IBAN", "BBAN", "UPIC"})
_ID_NESTED = frozenset({"Othr", "PrtryAcct"})
_BIC_NAMES = frozenset({"BICFI", "BIC"})
_DOCTYPE_MESSAGE = "DOCTYPE/entity declarations are not allowed in camt files"

# Tag -> local name.  Bounded so that a hostile file with a new namespace on
# every element cannot grow it without end.
_LOCAL: dict[object, str | None] = {}


def _local(tag: object) -> str | None:
    name = _LOCAL.get(tag)
    if name is None:
        # Interned, so that comparing it with a literal is an identity check.
        name = sys.intern(tag.rpartition("}")[2]) if isinstance(tag, str) else None  # comments/PIs: no name
        if len(_LOCAL) < 4096:
            _LOCAL[tag] = name
    return name


def _find(el: etree._Element | None, *path: str) -> etree._Element | None:
    local = _LOCAL
    for name in path:
        if el is None:
            return None
        for child in el:
            tag = child.tag
            if (local.get(tag) or _local(tag)) == name:
                el = child
                break
        else:
            return None
    return el


def _child(el: etree._Element | None, name: str) -> etree._Element | None:
    """The first child of ``el`` named ``name`` (``_find`` for one step, without its loop over a path)."""
    if el is None:
        return None
    local = _LOCAL
    for child in el:
        tag = child.tag
        if (local.get(tag) or _local(tag)) == name:
            return child
    return None


def _text(el: etree._Element | None, *path: str) -> str | None:
    if path:
        el = _find(el, *path)
    if el is None:
        return None
    return _clean(el.text)


def _amount(el: etree._Element, what: str) -> Decimal:
    text = (el.text or "").strip()
    if not _AMOUNT_RE.match(text):
        raise ParseError(f"{what} {text!r} is not an amount; expected digits with a '.' decimal mark, e.g. 1234.50",
                         el.sourceline)
    value = Decimal(text)
    # "885.00000" (five decimals, seen in the corpus) is 885.00; drop only zeros.
    dot = text.find(".")
    if dot >= 0 and len(text) - dot > 3 and value == value.quantize(_CENT):
        value = value.quantize(_CENT)
    return value


_DATES: dict[str, date] = {}


def _date(el: etree._Element | None, what: str) -> date | None:
    """``Dt``, ``DtTm`` (date part as written) or the element's own text."""
    if el is None:
        return None
    inner = el[0] if len(el) else el
    text = inner.text
    if text is None:
        return None
    key = text.strip()[:10]
    found = _DATES.get(key)
    if found is not None:
        return found
    try:
        found = date.fromisoformat(key)
    except ValueError:
        raise ParseError(f"{what} {text.strip()!r} is not a date; expected YYYY-MM-DD", inner.sourceline) from None
    if len(_DATES) < 10_000:
        _DATES[key] = found
    return found


def _sign(el: etree._Element | None, what: str, line: int | None) -> int:
    if el is not None:
        indicator = el.text
        if indicator == "CRDT":
            return 1
        if indicator == "DBIT":
            return -1
    indicator = _text(el)
    if indicator == "CRDT":
        return 1
    if indicator == "DBIT":
        return -1
    raise ParseError(f"{what} CdtDbtInd is {indicator!r}; expected CRDT or DBIT", line)


def _bank_code(btc: etree._Element | None) -> str | None:
    """``Domn/Cd-Fmly/Cd-Fmly/SubFmlyCd`` (e.g. ``PMNT-RCDT-ESCT``), else ``Prtry/Cd``."""
    if btc is None:
        return None
    local = _LOCAL
    parts: list[str] = []
    proprietary = None
    for part in btc:
        tag = part.tag
        name = local.get(tag) or _local(tag)
        if name == "Domn":
            for item in part:
                tag = item.tag
                item_name = local.get(tag) or _local(tag)
                if item_name == "Cd":
                    parts.insert(0, _clean(item.text) or "")
                elif item_name == "Fmly":
                    for code in item:
                        text = code.text
                        if text:
                            tag = code.tag
                            if (local.get(tag) or _local(tag)) in _FAMILY_CODES:
                                parts.append(text.strip())
        elif name == "Prtry" and proprietary is None:
            proprietary = _text(part, "Cd")
    if len(parts) == 3 and parts[0] and parts[1] and parts[2]:
        return f"{parts[0]}-{parts[1]}-{parts[2]}"
    code = "-".join(p for p in parts if p)
    return code or proprietary


def _party_name(party: etree._Element | None) -> str | None:
    """``Nm`` (.02-.07), ``Pty/Nm`` (.08+), or an agent's name (.08+ ``Agt``)."""
    if party is None:
        return None
    local = _LOCAL
    for child in party:
        tag = child.tag
        name = local.get(tag) or _local(tag)
        if name == "Nm":
            return _clean(child.text)
        if name == "Pty":
            # Nm is the first element of a party in every version; look further only if it is not.
            for first in child:
                tag = first.tag
                if (local.get(tag) or _local(tag)) == "Nm":
                    return _clean(first.text)
                break
            return _text(child, "Nm")
        if name == "Agt":
            return _text(child, "FinInstnId", "Nm")
    return None


def _account_id(acct: etree._Element | None) -> str | None:
    """``Id/IBAN`` or ``Id/Othr/Id`` (and the .01 choices ``BBAN``, ``UPIC``, ``PrtryAcct/Id``)."""
    if acct is None:
        return None
    ident = _child(acct, "Id")
    if ident is None:
        return None
    local = _LOCAL
    for choice in ident:
        tag = choice.tag
        name = local.get(tag) or _local(tag)
        if name in _ID_CHOICES:
            return _clean(choice.text)
        if name in _ID_NESTED:
            return _text(choice, "Id")
    return None


def _bic(agent: etree._Element | None) -> str | None:
    """``FinInstnId/BICFI`` (.04+) or ``FinInstnId/BIC``."""
    inst = _child(agent, "FinInstnId")
    if inst is None:
        return None
    local = _LOCAL
    for child in inst:
        tag = child.tag
        if (local.get(tag) or _local(tag)) in _BIC_NAMES:
            return _clean(child.text)
    return None


class _Tx:
    """What one ``TxDtls`` says, before it becomes a line (one pass over its children)."""

    __slots__ = ("amt", "amt_details", "sign", "remittance", "refs", "parties", "agents", "e2e", "acct_ref",
                 "bank_code", "addtl")

    def __init__(self, tx: etree._Element) -> None:
        sign = 0
        e2e = acct_ref = parties = agents = bank_code = addtl = amt = amt_details = None
        self.remittance: list[str] = []
        self.refs: list[str] = []
        local = _LOCAL
        for child in tx:
            tag = child.tag
            name = local.get(tag) or _local(tag)
            if name == "RltdPties":
                parties = child
            elif name == "Refs":
                for ref in child:
                    tag = ref.tag
                    ref_name = local.get(tag) or _local(tag)
                    if ref_name == "EndToEndId":
                        e2e = _clean(ref.text)
                        if e2e is not None and e2e.upper() in _NO_ID:
                            e2e = None
                    elif ref_name == "AcctSvcrRef":
                        acct_ref = _clean(ref.text)
            elif name == "RmtInf":
                self._remittance(child)
            elif name == "RltdAgts":
                agents = child
            elif name == "AmtDtls":
                amt_details = child
            elif name == "Amt":
                amt = child
            elif name == "CdtDbtInd":
                sign = _sign(child, "TxDtls", child.sourceline)
            elif name == "BkTxCd":
                bank_code = _bank_code(child)
            elif name == "AddtlTxInf":
                addtl = _clean(child.text)
        self.sign, self.e2e, self.acct_ref, self.parties, self.agents = sign, e2e, acct_ref, parties, agents
        self.bank_code, self.addtl, self.amt, self.amt_details = bank_code, addtl, amt, amt_details

    def amount(self) -> tuple[Decimal | None, str | None]:
        """The transaction's own amount and currency: ``Amt``, else ``AmtDtls/TxAmt/Amt`` (only batches need it)."""
        amt = self.amt if self.amt is not None else _find(self.amt_details, "TxAmt", "Amt")
        if amt is None:
            return None, None
        return _amount(amt, "TxDtls amount"), amt.get("Ccy")

    def _remittance(self, rmt: etree._Element) -> None:
        texts = self.remittance
        local = _LOCAL
        for part in rmt:
            tag = part.tag
            name = local.get(tag) or _local(tag)
            if name == "Ustrd":
                text = _clean(part.text)
                if text:
                    texts.append(text)
            elif name == "Strd":
                for item in part:
                    tag = item.tag
                    item_name = local.get(tag) or _local(tag)
                    if item_name == "CdtrRefInf":
                        ref = _text(_child(item, "Ref"))
                        if ref:
                            self.refs.append(ref)
                    elif item_name == "RfrdDocInf":
                        number = _text(item, "Nb")
                        if number:
                            texts.append(number)
                    elif item_name == "AddtlRmtInf":
                        text = _clean(item.text)
                        if text:
                            texts.append(text)


def _clean(text: str | None) -> str | None:
    """Whitespace runs (line breaks inside a name, padding) as one space; empty as None."""
    if not text:
        return None
    if "\n" in text or "  " in text or "\t" in text or "\r" in text:
        return " ".join(text.split()) or None
    return text.strip() or None


class _Lines:
    """The lines of one statement, read from the shared parse as they are asked for.

    The parse moves on to the next statement only after this one is read to the
    end; if a caller asks for the next statement first, what is left is read
    into memory here, so no line is ever lost whatever order the caller uses.
    """

    def __init__(self, producer: Iterator[StatementLine]) -> None:
        self._producer = producer
        self._buffer: deque[StatementLine] | None = None

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> StatementLine:
        if self._buffer is None:
            return next(self._producer)
        if self._buffer:
            return self._buffer.popleft()
        raise StopIteration

    def finish(self) -> None:
        """Read whatever the caller has not read yet, so the parse can go on."""
        if self._buffer is None:
            self._buffer = deque(self._producer)


class _StatementState:
    """Counters for one statement, turned into warnings at its end."""

    __slots__ = ("skipped", "entries", "unsplit", "declared_entries", "stmt_el", "fallback_date", "undated")

    def __init__(self, stmt_el: etree._Element) -> None:
        self.stmt_el = stmt_el
        self.fallback_date: date | None = None
        self.undated = 0
        self.skipped: dict[str, int] = {}
        self.entries = 0
        self.unsplit: list[str] = []
        self.declared_entries: int | None = None


class _Reader:
    """Turns the ``end`` events of one camt document into statements and lines."""

    def __init__(self, events: Iterator[tuple[str, etree._Element]], where: str = "") -> None:
        self._events = events
        self._where = where
        # GrpHdr's MsgId and CreDtTm, read with the first statement: releasing a statement
        # frees the elements before it, so the second statement would no longer find them.
        self._group: tuple[str | None, str | None] | None = None

    def _located(self, exc: BaseException) -> ParseError:
        """Every failure as one ParseError, naming the archive member where there is one.

        Lines are read while the caller iterates them, outside ``parse()``, so the
        translation has to happen here and not around ``parse()``.
        """
        if isinstance(exc, etree.XMLSyntaxError):
            error = _syntax_error(exc)
        elif isinstance(exc, ParseError):
            error = exc
        else:
            error = ParseError(f"the file cannot be read to the end ({exc})")
        prefix = f"archive member {self._where}: "
        if self._where and not error.message.startswith(prefix):
            error = ParseError(prefix + error.message, error.line)
        return error

    # -- statements ---------------------------------------------------------

    def statements(self) -> Iterator[Statement]:
        """The document's statements; each one's lines stream from the same parse."""
        try:
            yield from self._statements()
        except _READ_ERRORS as exc:
            raise self._located(exc) from None

    def _statements(self) -> Iterator[Statement]:
        found = False
        current: _Lines | None = None
        for _event, el in self._events:
            name = _local(el.tag)
            parent = el.getparent()
            if name == "Ntry":
                if parent is None or _local(parent.tag) not in _KIND_BY_ELEMENT:
                    raise ParseError("Ntry outside a Stmt/Rpt/Ntfctn", el.sourceline)
                found = True
                statement, state = self._header(parent)
                first = self._entry(el, statement, state)
                _release(el)
                if statement.currency is None and first:
                    statement.currency = first[0].currency
                current = _Lines(self._rest(statement, state, first))
                statement.lines = current
                yield statement
                current.finish()
                current = None
            elif parent is not None and (_local(parent.tag) or "").startswith("BkToCstmr"):
                # A statement without a single entry: still a statement (balances, a quiet day).
                found = True
                statement, state = self._header(el)
                self._close(statement, state)
                _release(el)
                yield statement
        if not found:
            raise ParseError("no Stmt, Rpt or Ntfctn in this camt message; expected at least one statement")

    def _rest(self, statement: Statement, state: _StatementState, first: list[StatementLine]
              ) -> Iterator[StatementLine]:
        try:
            yield from self._rest_inner(statement, state, first)
        except _READ_ERRORS as exc:
            raise self._located(exc) from None

    def _rest_inner(self, statement: Statement, state: _StatementState, first: list[StatementLine]
                    ) -> Iterator[StatementLine]:
        yield from first
        stmt_el = state.stmt_el
        for _event, el in self._events:
            if el is stmt_el:
                self._close(statement, state)
                _release(el)
                return
            if _local(el.tag) != "Ntry" or el.getparent() is not stmt_el:
                continue  # an element that merely shares a statement's name, deeper down
            lines = self._entry(el, statement, state)
            _release(el)
            yield from lines
        raise ParseError("the file ends inside a statement; expected the closing tag", None)

    def _header(self, stmt_el: etree._Element) -> tuple[Statement, _StatementState]:
        kind = _KIND_BY_ELEMENT[_local(stmt_el.tag) or ""]
        state = _StatementState(stmt_el)
        ident = seq_e = seq_l = account = currency = created = period_end = None
        balances: list[tuple[str, Balance]] = []
        for child in stmt_el:
            name = _local(child.tag)
            if name == "Ntry":
                break
            if name == "Id":
                ident = _text(child)
            elif name == "ElctrncSeqNb":
                seq_e = _text(child)
            elif name == "LglSeqNb":
                seq_l = _text(child)
            elif name == "CreDtTm":
                created = _text(child)
            elif name == "FrToDt":
                period_end = _text(child, "ToDtTm") or _text(child, "ToDt")
            elif name == "Acct":
                account = _account_id(child)
                currency = _text(child, "Ccy")
            elif name == "Bal":
                balances.append(self._balance(child))
            elif name == "TxsSummry":
                declared = _text(child, "TtlNtries", "NbOfNtries")
                if declared and declared.isdigit():
                    state.declared_entries = int(declared)
        if account is None:
            raise ParseError(f"{_local(stmt_el.tag)} has no account; expected Acct/Id/IBAN or Acct/Id/Othr/Id",
                             stmt_el.sourceline)
        message_id, message_created = self._group_header(stmt_el)
        if ident is None:
            ident = message_id
        for candidate in (created, period_end, message_created):
            if candidate:
                try:
                    state.fallback_date = date.fromisoformat(candidate[:10])
                    break
                except ValueError:
                    continue
        if currency is None:
            currency = next((b.currency for _, b in balances if b.currency), None)
        statement = Statement(account=account, currency=currency, statement_id=ident, sequence=seq_l or seq_e,
                              kind=kind)
        self._apply_balances(statement, balances, kind)
        return statement, state

    def _group_header(self, stmt_el: etree._Element) -> tuple[str | None, str | None]:
        """The message's ``GrpHdr/MsgId`` and ``GrpHdr/CreDtTm`` (the same for every statement in it)."""
        if self._group is None:
            message = stmt_el.getparent()
            header = _find(message, "GrpHdr") if message is not None else None
            self._group = (_text(header, "MsgId"), _text(header, "CreDtTm"))
        return self._group

    def _balance(self, bal: etree._Element) -> tuple[str, Balance]:
        code = _text(bal, "Tp", "CdOrPrtry", "Cd") or _text(bal, "Tp", "CdOrPrtry", "Prtry") or ""
        amt = _find(bal, "Amt")
        if amt is None:
            raise ParseError(f"balance {code} has no Amt", bal.sourceline)
        sign = _sign(_find(bal, "CdtDbtInd"), f"balance {code}", bal.sourceline)
        value = _amount(amt, f"balance {code} amount")
        return code.upper(), Balance(amount=sign * value, date=_date(_find(bal, "Dt"), "balance date"),
                                     currency=amt.get("Ccy"))

    @staticmethod
    def _apply_balances(statement: Statement, balances: list[tuple[str, Balance]], kind: str) -> None:
        by_code: dict[str, Balance] = {}
        for code, balance in balances:
            # ITBD may repeat (one per intraday cut-off): the last one is the latest.
            if code not in by_code or code == "ITBD":
                by_code[code] = balance
        opening = by_code.get("OPBD") or by_code.get("PRCD")
        closing = by_code.get("CLBD") or by_code.get("ITBD")
        if closing is None and kind == "camt.052":
            closing = by_code.get("CLAV")
        if opening is not None:
            statement.opening = opening
        if closing is not None:
            statement.closing = closing

    def _close(self, statement: Statement, state: _StatementState) -> None:
        """Balances written after the entries (not schema order, but seen) and the warnings."""
        late = [self._balance(c) for c in state.stmt_el if _local(c.tag) == "Bal"]
        if late and (statement.opening is None or statement.closing is None):
            self._apply_balances(statement, late, statement.kind or "")
        for status, count in sorted(state.skipped.items()):
            statement.warnings.append(
                f"{count} entr{'y' if count == 1 else 'ies'} with status {status} not imported: not booked yet"
            )
        statement.warnings.extend(state.unsplit)
        if state.undated:
            statement.warnings.append(
                f"{state.undated} entr{'y' if state.undated == 1 else 'ies'} without BookgDt or ValDt dated "
                f"{state.fallback_date}, the date the {_local(state.stmt_el.tag)} was created"
            )
        if state.declared_entries is not None and state.declared_entries != state.entries:
            statement.warnings.append(
                f"TxsSummry/TtlNtries/NbOfNtries says {state.declared_entries} entries, the statement holds "
                f"{state.entries}"
            )

    # -- entries ------------------------------------------------------------

    def _entry(self, ntry: etree._Element, statement: Statement, state: _StatementState) -> list[StatementLine]:
        state.entries += 1
        amt = cdi = booking_el = value_el = entry_ref = ntry_ref = btc = addtl = None
        reversal = False
        txs: list[etree._Element] = []
        local = _LOCAL
        for child in ntry:
            tag = child.tag
            name = local.get(tag) or _local(tag)
            if name == "NtryDtls":
                for tx in child:
                    tag = tx.tag
                    if (local.get(tag) or _local(tag)) == "TxDtls":
                        txs.append(tx)
            elif name == "Amt":
                amt = child
            elif name == "CdtDbtInd":
                cdi = child
            elif name == "Sts":
                status = child.text
                if status is None and len(child) == 1:
                    code = child[0]
                    if code.text == "BOOK" and (local.get(code.tag) or _local(code.tag)) == "Cd":
                        status = "BOOK"  # <Sts><Cd>BOOK</Cd></Sts> (.08 on), what the general lookup below finds
                if status != "BOOK":
                    status = (_clean(status) or _text(child, "Cd") or _text(child, "Prtry") or "").upper()
                    if status and status not in _BOOKED:
                        state.skipped[status] = state.skipped.get(status, 0) + 1
                        return []
            elif name == "BookgDt":
                booking_el = child
            elif name == "ValDt":
                value_el = child
            elif name == "AcctSvcrRef":
                entry_ref = _clean(child.text)
            elif name == "NtryRef":
                ntry_ref = _clean(child.text)
            elif name == "BkTxCd":
                btc = child
            elif name == "AddtlNtryInf":
                addtl = _clean(child.text)
            elif name == "RvslInd":
                reversal = (child.text or "").strip().lower() in ("true", "1")
        line = ntry.sourceline
        if amt is None:
            raise ParseError("entry has no Amt", line)
        amount = _amount(amt, "entry amount")
        if _sign(cdi, "entry", line) < 0:
            amount = -amount
        ccy = amt.get("Ccy") or statement.currency
        booking = _date(booking_el, "BookgDt") if booking_el is not None else None
        value_date = _date(value_el, "ValDt") if value_el is not None else None
        if booking is None:
            booking = value_date
        if booking is None:
            # camt.054 advices often carry no dates: the notification's own date is the best there is.
            if state.fallback_date is None:
                raise ParseError("entry has neither BookgDt nor ValDt; expected a booking date", line)
            booking = state.fallback_date
            state.undated += 1
        entry = _Entry(booking, value_date, ccy, entry_ref, ntry_ref, _bank_code(btc) if btc is not None else None,
                       addtl, _raw(ntry), line, reversal, statement.account)
        if not txs:
            return [entry.line(None, amount, [], [])]
        if len(txs) == 1:
            tx = _Tx(txs[0])
            return [entry.line(tx, amount, tx.remittance, tx.refs)]
        details = [_Tx(tx) for tx in txs]
        split = self._split(details, amount, ccy)
        if split is not None:
            return [entry.line(tx, tx_amount, tx.remittance, tx.refs)
                    for tx, tx_amount in zip(details, split, strict=True)]
        state.unsplit.append(
            f"line {line}: entry of {amount} {ccy or ''} holds {len(details)} transactions whose amounts do not "
            "add up to it (missing, in another currency or a different sum); imported as one line"
        )
        return [self._merged(details, amount, entry)]

    @staticmethod
    def _split(details: list[_Tx], amount: Decimal, ccy: str | None) -> list[Decimal] | None:
        """Signed amounts per transaction, or None when they do not add up to the entry exactly."""
        entry_sign = 1 if amount >= 0 else -1
        out = []
        for tx in details:
            tx_amount, tx_ccy = tx.amount()
            if tx_amount is None or (ccy and tx_ccy and tx_ccy != ccy):
                return None
            out.append((tx.sign or entry_sign) * tx_amount)
        return out if sum(out) == amount else None

    @staticmethod
    def _merged(details: list[_Tx], amount: Decimal, entry: _Entry) -> StatementLine:
        """One line for a batch that cannot be split: every text and reference kept, parties only if shared."""
        remittance: list[str] = []
        refs: list[str] = []
        for tx in details:
            for text in tx.remittance:
                if text not in remittance:
                    remittance.append(text)
            for ref in tx.refs:
                if ref not in refs:
                    refs.append(ref)
        line = entry.line(details[0], amount, remittance, refs)
        # A party, id or reference is only named when every transaction agrees on it.
        others = [entry.line(tx, amount, [], []) for tx in details[1:]]
        for attr in ("counterparty_name", "counterparty_account", "counterparty_bic", "ultimate_debtor",
                     "end_to_end_id", "bank_reference"):
            value = getattr(line, attr)
            if any(getattr(o, attr) != value for o in others):
                setattr(line, attr, None)
        if line.bank_reference is None:
            line.bank_reference = entry.line(None, amount, [], []).bank_reference
        return line


_ACCT_ROLE = {"Dbtr": "DbtrAcct", "Cdtr": "CdtrAcct"}
_AGENT_ROLE = {"Dbtr": "DbtrAgt", "Cdtr": "CdtrAgt"}


class _Entry:
    """The entry-level facts every line of one ``Ntry`` shares."""

    __slots__ = ("booking", "value_date", "ccy", "entry_ref", "ntry_ref", "bank_code", "addtl", "raw", "source_line",
                 "reversal", "own_account")

    def __init__(self, booking: date, value_date: date | None, ccy: str | None, entry_ref: str | None,
                 ntry_ref: str | None, bank_code: str | None, addtl: str | None, raw: str, source_line: int | None,
                 reversal: bool = False, own_account: str | None = None) -> None:
        self.reversal = reversal
        self.own_account = own_account
        self.booking = booking
        self.value_date = value_date
        self.ccy = ccy
        self.entry_ref = entry_ref
        self.ntry_ref = ntry_ref
        self.bank_code = bank_code
        self.addtl = addtl
        self.raw = raw
        self.source_line = source_line

    def line(self, tx: _Tx | None, amount: Decimal, remittance: list[str], refs: list[str]) -> StatementLine:
        """A statement line for ``amount``, with the details of ``tx`` when there is one."""
        name = account = bic = ultimate = e2e = tx_ref = tx_code = None
        if tx is not None:
            # The counterparty of money coming in is the debtor, of money going out the creditor.  A
            # reversal's parties are those of the payment it reverses, so its side is the other one.
            debtor_side = (amount >= 0) != self.reversal
            parties = tx.parties
            if parties is not None:
                roles: dict[str | None, etree._Element] = {}
                local = _LOCAL
                for party in parties:
                    tag = party.tag
                    role = local.get(tag) or _local(tag)
                    if role not in roles:
                        roles[role] = party
                side, other = ("Dbtr", "Cdtr") if debtor_side else ("Cdtr", "Dbtr")
                name, account = _party_name(roles.get(side)), _account_id(roles.get(_ACCT_ROLE[side]))
                if name is None and account is None and self.reversal:
                    # Banks disagree on which party a reversal names; when only the other one is
                    # there, take it unless it is this very account.  (Not for ordinary entries:
                    # there the other party is the account holder, and a wrong payer is worse
                    # than none.)
                    other_account = _account_id(roles.get(_ACCT_ROLE[other]))
                    if other_account is None or other_account != self.own_account:
                        name, account = _party_name(roles.get(other)), other_account
                        if name is not None or account is not None:
                            side = other
                ultimate = _party_name(roles.get("UltmtDbtr"))
                if tx.agents is not None:
                    bic = _bic(_child(tx.agents, _AGENT_ROLE[side]))
            elif tx.agents is not None:
                bic = _bic(_child(tx.agents, "DbtrAgt" if debtor_side else "CdtrAgt"))
            e2e, tx_ref, tx_code = tx.e2e, tx.acct_ref, tx.bank_code
            if not remittance and tx.addtl:
                remittance = [tx.addtl]
        if not remittance and self.addtl:
            remittance = [self.addtl]
        if len(refs) > 1:
            remittance = remittance + refs[1:]
        return StatementLine(
            booking_date=self.booking,
            amount=amount,
            currency=self.ccy,
            value_date=self.value_date,
            bank_reference=self.entry_ref or tx_ref or self.ntry_ref,
            counterparty_name=name,
            counterparty_account=account,
            counterparty_bic=bic,
            ultimate_debtor=ultimate,
            remittance=" ".join(remittance) if remittance else None,
            creditor_reference=refs[0] if refs else None,
            end_to_end_id=e2e,
            bank_code=tx_code or self.bank_code,
            raw=self.raw,
            source_line=self.source_line,
        )


_BLANKS_RE = re.compile(r">\s+<")
_XMLNS_RE = re.compile(r'\s+xmlns(?::[\w.-]+)?="[^"]*"')


_HEADS: dict[str, str] = {}


def _raw(ntry: etree._Element) -> str:
    """The entry as compact XML text: no indentation, no namespace declarations, at most RAW_LIMIT chars."""
    raw = etree.tostring(ntry, encoding="unicode", with_tail=False)
    head_end = raw.find(">")
    if raw.find("xmlns", 0, head_end) >= 0:
        head = raw[:head_end]
        clean = _HEADS.get(head)
        if clean is None:
            clean = _XMLNS_RE.sub("", head)
            if len(_HEADS) < 64:
                _HEADS[head] = clean
        raw = clean + raw[head_end:]
    # Blank text between tags is rare (remove_blank_text drops it while parsing), and the regex
    # scan costs more than these tests: in ASCII text a blank run after a '>' starts with one of
    # the four blanks XML allows (the other ASCII controls cannot stand in an XML document), and
    # only a space can also stand elsewhere in an entry ("<Amt Ccy=", "Max Muster").
    if not raw.isascii() or "\n" in raw or "\t" in raw or "\r" in raw or "> " in raw:
        raw = _BLANKS_RE.sub("><", raw)
    return raw[:RAW_LIMIT]


def _release(el: etree._Element) -> None:
    """Free an element that has been read, and the siblings before it."""
    el.clear(keep_tail=False)
    parent = el.getparent()
    if parent is not None:
        while el.getprevious() is not None:
            del parent[0]


# -- safety and input -------------------------------------------------------


def _prolog_text(data: bytes) -> str:
    """The start of the file as text for the prolog check (UTF-16 decoded, anything else as latin-1)."""
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        return data.decode("utf-16", errors="replace")
    if data[:2] in (b"<\x00", b"\x00<"):
        return data.decode("utf-16-le" if data[0] == 0x3C else "utf-16-be", errors="replace")
    return data.decode("latin-1")


def check_prolog(fh: IO[bytes]) -> None:
    """Refuse a document whose prolog declares a DOCTYPE (and so possibly entities).

    Reads only the prolog (up to the root element's ``<``), from the current
    position of ``fh``, which it leaves moved.  An ``ENTITY`` can only be
    declared inside a ``DOCTYPE``, and a ``DOCTYPE`` can only stand in the
    prolog, so this refuses every XML bomb and external-entity trick before any
    parser runs.
    """
    data = b""
    while True:
        chunk = fh.read(64 * 1024)
        data += chunk
        text = _prolog_text(data)
        verdict = _scan_prolog(text)
        if verdict is not None:
            if verdict >= 0:
                raise ParseError(_DOCTYPE_MESSAGE, text.count("\n", 0, verdict) + 1)
            return
        if not chunk:
            return  # ends inside the prolog: lxml will say what is wrong
        if len(data) > PROLOG_LIMIT:
            raise ParseError("more than 1 MiB before the root element; expected a camt document")


def _scan_prolog(text: str) -> int | None:
    """-1: prolog clean; n >= 0: a DOCTYPE/other declaration at offset n; None: need more text."""
    i = 0
    n = len(text)
    if text.startswith("\ufeff"):
        i = 1
    if text.startswith("\xef\xbb\xbf"):  # UTF-8 BOM seen through latin-1
        i = 3
    while True:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            return None
        if text.startswith("<?", i):
            end = text.find("?>", i + 2)
            if end < 0:
                return None
            i = end + 2
        elif text.startswith("<!--", i):
            end = text.find("-->", i + 4)
            if end < 0:
                return None
            i = end + 3
        elif text.startswith("<!", i):
            if n - i < 4:
                return None  # may yet be a comment
            return i
        else:
            return -1


_PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "remove_blank_text": True,
    "remove_comments": True,
    "remove_pis": True,
}
_TAGS = ("{*}Ntry", "{*}Stmt", "{*}Rpt", "{*}Ntfctn")
_READ_ERRORS = (ParseError, etree.XMLSyntaxError, zipfile.BadZipFile, zlib.error, EOFError, OSError)


def _read_document(opener: Callable[[], IO[bytes]], where: str) -> Iterator[Statement]:
    with opener() as fh:
        try:
            check_prolog(fh)
        except ParseError as exc:
            raise (ParseError(f"archive member {where}: {exc.message}", exc.line) if where else exc) from None
    with opener() as fh:
        # lxml keeps earlier parses' errors in a per-thread log; start clean so that an error
        # reported for this file is this file's.
        etree.clear_error_log()
        starts = etree.iterparse(_UnqualifiedRoot(fh), events=("start",), tag=_TAGS, **_PARSER_OPTIONS)
        yield from _Reader(_ends(starts), where).statements()


def _ends(starts: Iterator[tuple[str, etree._Element]]) -> Iterator[tuple[str, etree._Element]]:
    """The ``end`` events of the elements in ``starts``, in the order the parser ends them.

    An element is complete once an element that is not inside it starts, or the document
    ends; the elements of ``_TAGS`` that are open form one chain (each inside the one
    before), so when an element starts, those of the chain that are not its ancestors
    have ended, the innermost first.  Asking lxml for ``start`` events alone costs it half
    the calls back into Python that ``end`` events would (one per element of the
    document, not two), a sixth of the time the parse takes.
    """
    chain: list[etree._Element] = []
    for _event, el in starts:
        parent = el.getparent()
        while chain:
            last = chain[-1]
            if last is parent:
                break  # el is inside it: still open
            if last.getparent() is parent or not _is_inside(parent, last):
                yield "end", chain.pop()  # a sibling before el, or outside el's ancestry: ended
            else:
                break
        chain.append(el)
    while chain:
        yield "end", chain.pop()


def _is_inside(el: etree._Element | None, ancestor: etree._Element) -> bool:
    """Is ``el`` (or one of its ancestors) ``ancestor``?"""
    while el is not None:
        if el is ancestor:
            return True
        el = el.getparent()
    return False


_ROOT_TAG_RE = re.compile(rb"""<[^\s<>/?!]+(?:\s+[^\s=<>/]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*/?>""")
_DEFAULT_NS_RE = re.compile(rb"(\s)xmlns(\s*=)")


class _UnqualifiedRoot:
    """The document with its root's default namespace declaration turned into a plain attribute.

    Elements are matched on local names anyway (see the module docstring), and an
    element without a namespace costs lxml much less: its ``tag`` is the plain
    name instead of ``{urn:iso:std:iso:20022:tech:xsd:camt.053.001.08}Amt`` built
    anew on every access, and an entry's raw XML carries no declaration to strip
    (lxml copies every declaration in scope into an element it serialises).
    Only bytes inside the root's start tag change (no line break is added or
    removed, so every line number lxml reports stays right); a document in
    UTF-16, with a prefixed root, or whose root tag is not found in the first
    chunk is passed on untouched.
    """

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        self._head: bytes | None = None

    def read(self, size: int = -1) -> bytes:
        """What lxml asks for; the first call reads up to the end of the root's start tag."""
        if self._head is None:
            self._head = self._rewrite(self._fh.read(max(size, 1 << 16)))
        if self._head:
            n = len(self._head) if size is None or size < 0 else size
            chunk, self._head = self._head[:n], self._head[n:]
            return chunk
        return self._fh.read(size)

    @staticmethod
    def _rewrite(data: bytes) -> bytes:
        if data[:2] in (b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<"):
            return data  # UTF-16: not ASCII-compatible bytes
        start = _root_offset(data.decode("latin-1"))
        if start is None:
            return data
        match = _ROOT_TAG_RE.match(data, start)
        if match is None or b"xmlns" not in match.group():
            return data
        tag = _DEFAULT_NS_RE.sub(rb"\1recon-default-xmlns\2", match.group())
        return data[: match.start()] + tag + data[match.end():]


def _root_offset(text: str) -> int | None:
    """Where the root element's ``<`` is, after the XML declaration, comments and PIs (None: not found)."""
    i = 3 if text.startswith("\xef\xbb\xbf") else 0
    n = len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if text.startswith("<?", i):
            end = text.find("?>", i + 2)
            i = end + 2 if end >= 0 else n
        elif text.startswith("<!--", i):
            end = text.find("-->", i + 4)
            i = end + 3 if end >= 0 else n
        elif text.startswith("<", i) and not text.startswith("<!", i):
            return i
        else:
            return None
    return None


def _looks_like_camt(head: bytes) -> bool:
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE) or head[:2] in (b"<\x00", b"\x00<"):
        head = _prolog_text(head).encode("utf-8", errors="replace")
    elif head.startswith(codecs.BOM_UTF8):
        head = head[3:]
    if not head.lstrip()[:1] == b"<":
        return False
    return _ROOT_RE.search(head) is not None


def _first_zip_member(head: bytes) -> bytes | None:
    """The decompressed start of the first real file in a zip, read from the local headers in ``head``."""
    pos = 0
    while head.startswith(b"PK\x03\x04", pos) and pos + 30 <= len(head):
        flags, method = struct.unpack_from("<HH", head, pos + 6)
        (csize,) = struct.unpack_from("<I", head, pos + 18)
        nlen, xlen = struct.unpack_from("<HH", head, pos + 26)
        name = head[pos + 30 : pos + 30 + nlen].decode("utf-8", errors="replace")
        start = pos + 30 + nlen + xlen
        if name.endswith("/") or _skip_member(name):
            if flags & 0x08:
                return None  # size only in a trailing descriptor: the next header cannot be found
            pos = start + csize
            continue
        if flags & 0x01:
            return None  # encrypted
        data = head[start:] if flags & 0x08 or not csize else head[start : start + csize]
        if method == 0:
            return data[:4096]
        if method == 8:
            try:
                return zlib.decompressobj(-15).decompress(data, 4096)
            except zlib.error:
                return None
        return None
    return None


def _skip_member(name: str) -> bool:
    """macOS resource forks that archivers add beside every file."""
    base = name.rsplit("/", 1)[-1]
    return name.startswith("__MACOSX/") or base.startswith("._")


class CamtParser:
    """camt.052 / camt.053 / camt.054 in any version, plain or zipped; see the module docstring."""

    name: ClassVar[str] = "camt"
    streams: ClassVar[bool] = True  # lines come one entry at a time (see parsers/base.py)

    def detect(self, head: bytes) -> bool:
        """True for an ISO 20022 bank-to-customer message, or a zip whose first file is one."""
        if head.startswith(b"PK\x03\x04"):
            member = _first_zip_member(head)
            return member is not None and _looks_like_camt(member)
        return _looks_like_camt(head)

    def parse(self, path: Path) -> Iterator[Statement]:
        """Stream the statements of ``path``; each statement's lines are read as they are consumed."""
        path = Path(path)
        with open(path, "rb") as fh:
            is_zip = fh.read(4) == b"PK\x03\x04"
        if is_zip:
            yield from self._parse_zip(path)
        else:
            yield from _read_document(lambda: open(path, "rb"), "")

    def _parse_zip(self, path: Path) -> Iterator[Statement]:
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ParseError(f"damaged zip archive ({exc}); expected a zip of camt files") from None
        with archive:
            members = [m for m in archive.infolist() if not m.is_dir() and not _skip_member(m.filename)]
            if not members:
                raise ParseError("the zip archive holds no files; expected camt files")
            for member in members:
                try:
                    with archive.open(member) as probe:
                        head = probe.read(64 * 1024)
                except (zipfile.BadZipFile, RuntimeError, NotImplementedError, zlib.error, EOFError) as exc:
                    raise ParseError(f"archive member {member.filename} cannot be unpacked ({exc})") from None
                if not _looks_like_camt(head):
                    raise ParseError(f"archive member {member.filename} is not a camt file; "
                                     "a zip is read only when every file in it is camt")
                yield from _read_document(lambda m=member: archive.open(m), member.filename)


def _syntax_error(exc: etree.XMLSyntaxError) -> ParseError:
    """libxml2's first fatal error (iterparse sometimes reports only a later, vaguer one) as one line."""
    message, line = str(exc.msg or exc), exc.lineno
    log = getattr(exc, "error_log", None)
    fatal = next((e for e in log if e.level_name == "FATAL"), None) if log is not None else None
    if fatal is not None:
        message, line = fatal.message, fatal.line
    message = re.sub(r",? line \d+, column \d+$", "", " ".join(message.split()))
    return ParseError(f"not well-formed XML: {message}", line if line and line > 0 else None)
