"""The decision for one payment: post it, queue it with ranked suggestions, or set it aside.

Input is what the bulk stages found for the transaction (:class:`TxnFacts`:
reference hits, the identified payer, amount-only candidates, an ignore rule)
and the live state of the invoices (:class:`InvoiceBook`, whose open amounts
the job reduces after every posting, so that within one run an invoice's open
amount is never allocated twice).  Output is a :class:`Decision`.

Candidates (:class:`Option`) are single invoices or groups of invoices.  Each
gets a confidence from two routes (see ``rules/default.toml``, ``[matching]``):

* reference: how strongly the text names the invoice, times how well the
  amount fits, times whether the identified payer agrees;
* payer: the payer's identification score, times how well the amount fits,
  when the payer is the invoice's customer (or its parent) and no other of
  its invoices fits as well (twins are a question for a person).

A candidate is posted only when the evidence agrees and nothing else is nearly
as good; everything else is queued with a reason code and suggestions.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from matcher.references import compact, within_one_edit
from matcher.settings import MatchSettings
from matcher.subsets import find_subsets

STRONG_FORMS = ("rf", "exact", "leading-zeros")
_ASCII_TOKEN = re.compile(r"[A-Za-z0-9]+")
_FORM_RANK = {"rf": 0, "exact": 1, "leading-zeros": 2, "digits-only": 3, "typo": 4}
FIT_KINDS = ("exact", "discount", "bank-charges")  # amounts that close an invoice


@dataclass(slots=True)
class InvoiceBook:
    """The invoices as columns (position = invoice index), with open amounts that change during a run."""

    ids: list[str]
    customer: list[str]
    currency: list[str]
    amount: list[int]  # cents
    open: list[int]  # cents, reduced as the run posts
    discount: list[int]  # cents of the early-payment discount (0: none)
    discount_until: list[int]  # date ordinal (0: none)
    due: list[int]  # date ordinal
    by_customer: dict[str, list[int]] = field(default_factory=dict)
    parent: dict[str, str] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)
    index: dict[str, int] = field(default_factory=dict)

    def finish(self) -> InvoiceBook:
        """Build the lookups (per customer, by id, children of parents) after the columns are filled."""
        self.by_customer = {}
        for i, cust in enumerate(self.customer):
            self.by_customer.setdefault(cust, []).append(i)
        self.index = {inv: i for i, inv in enumerate(self.ids)}
        self.children = {}
        for child, parent in self.parent.items():
            if parent:
                self.children.setdefault(parent, []).append(child)
        return self

    def scope(self, customers: tuple[str, ...]) -> list[int]:
        """Invoices of these customers and of the subsidiaries they pay for."""
        out: list[int] = []
        seen: set[str] = set()
        for cust in customers:
            for c in (cust, *self.children.get(cust, ())):
                if c not in seen:
                    seen.add(c)
                    out.extend(self.by_customer.get(c, ()))
        return out


@dataclass(slots=True)
class RefHit:
    """The text names invoice ``inv`` by key form ``form``; ``found`` is what was read, ``field`` where."""

    inv: int
    form: str
    found: str
    field: str = "remittance"


@dataclass(slots=True)
class Payer:
    """Who the payment is from: one or more customers (a shared account), how sure, and how found."""

    customers: tuple[str, ...]
    score: float
    by: str  # account | learned-account | name | alias | learned-alias | truncated-name | fuzzy-name
    name: str | None = None


@dataclass(slots=True)
class TxnFacts:
    """What the bulk stages found about one transaction."""

    id: int
    amount: int  # cents, signed
    currency: str | None
    booking: date
    value: date | None = None
    hits: list[RefHit] = field(default_factory=list)
    payer: Payer | None = None
    amount_only: list[int] = field(default_factory=list)
    ignore: str | None = None
    texts: dict[str, str | None] = field(default_factory=dict)  # field label -> original text, for evidence


@dataclass(slots=True)
class Line:
    """Cash and adjustment on one invoice (cents)."""

    inv: int
    cash: int
    adjustment: int = 0
    adjustment_reason: str | None = None


@dataclass(slots=True)
class Option:
    """A candidate answer: one invoice or a group, with the evidence that supports it."""

    lines: list[Line]
    kind: str  # exact | discount | bank-charges | partial | overpayment | currency | multi | subset | amount-only
    route: str  # reference | payer | multi-invoice | amount-only
    confidence: float = 0.0
    hits: list[RefHit] = field(default_factory=list)
    relation: str = "unknown"  # same | parent | unknown | other
    unique: bool = True
    surplus: int = 0
    ref_part: float = 0.0
    payer_part: float = 0.0

    @property
    def invoices(self) -> tuple[int, ...]:
        lines = self.lines
        if len(lines) == 1:
            return (lines[0].inv,)
        return tuple(ln.inv for ln in lines)


@dataclass(slots=True)
class Decision:
    """What to do with one transaction; ``kind`` is post, queue or ignore."""

    kind: str
    reason: str
    confidence: float = 0.0
    lines: list[Line] = field(default_factory=list)
    remainder: str = "error"
    evidence: dict[str, Any] = field(default_factory=dict)
    customer_id: str | None = None
    detail: str | None = None
    suggestions: list[tuple[list[Line], float, str, dict[str, Any]]] = field(default_factory=list)


_HUNDREDTHS = tuple(f"{i:02d}" for i in range(100))


def cents(value: int) -> str:
    """Integer cents as a money string: 120000 -> '1200.00'.  (A writer of a million decisions
    calls this millions of times: the two digits come from a table, not from a format.)"""
    if value >= 0:
        return f"{value // 100}.{_HUNDREDTHS[value % 100]}"
    value = -value
    return f"-{value // 100}.{_HUNDREDTHS[value % 100]}"


def to_decimal(value: float) -> Decimal:
    """A confidence as stored (6 decimals, within 0..1)."""
    return Decimal(str(round(min(max(value, 0.0), 1.0), 4)))


# --- amount ---------------------------------------------------------------------------------------


def fit_amount(book: InvoiceBook, inv: int, paid: int, when: date, s: MatchSettings) -> tuple[str, Line, int]:
    """How ``paid`` fits invoice ``inv``: (kind, the line that would settle it, surplus cents).

    kinds: ``paid`` (nothing open), ``exact``, ``discount`` (open less the
    early-payment discount, paid in time), ``bank-charges`` (short by no more
    than the tolerance), ``partial`` (less), ``overpayment`` (more).
    """
    open_ = book.open[inv]
    if open_ <= 0:
        return "paid", Line(inv, 0), 0
    if paid == open_:
        return "exact", Line(inv, paid), 0
    disc = book.discount[inv]
    if disc and 0 < disc < open_ and paid == open_ - disc:
        until = book.discount_until[inv]
        if until and when.toordinal() <= until + s.discount_grace_days:
            return "discount", Line(inv, paid, disc, "discount"), 0
    short = open_ - paid
    if 0 < short <= s.bank_charges_cents and short * 100 <= open_ * s.bank_charges_max_pct:
        return "bank-charges", Line(inv, paid, short, "bank-charges"), 0
    if paid < open_:
        return "partial", Line(inv, paid), 0
    return "overpayment", Line(inv, open_), paid - open_


def _relation(book: InvoiceBook, inv: int, payer: Payer | None) -> str:
    if payer is None:
        return "unknown"
    cust = book.customer[inv]
    if cust in payer.customers:
        return "same"
    if book.parent.get(cust) in payer.customers:
        return "parent"
    return "other"


def _combine(a: float, b: float) -> float:
    return 1.0 - (1.0 - a) * (1.0 - b)


# --- the decision ---------------------------------------------------------------------------------


def decide(t: TxnFacts, book: InvoiceBook, s: MatchSettings) -> Decision:
    """Decide what to do with transaction ``t`` given the invoices' current state (not changed here)."""
    if t.amount <= 0:
        return Decision("ignore", "debit" if t.amount < 0 else "zero-amount")
    when = t.value if t.value and t.value < t.booking else t.booking
    paid = t.amount

    best_hit: dict[int, RefHit] = {}
    for hit in t.hits:
        cur = best_hit.get(hit.inv)
        if cur is None or _FORM_RANK[hit.form] < _FORM_RANK[cur.form]:
            best_hit[hit.inv] = hit

    if t.ignore is not None and not _names_open_invoice_exactly(t, best_hit, book):
        return Decision("ignore", t.ignore)

    payer = t.payer
    options: list[Option] = []
    duplicates: list[int] = []
    currency_ok = {}

    def cur_ok(inv: int) -> bool:
        ok = currency_ok.get(inv)
        if ok is None:
            ok = not t.currency or not book.currency[inv] or t.currency == book.currency[inv]
            currency_ok[inv] = ok
        return ok

    # 1. invoices the text names
    for inv, hit in best_hit.items():
        rel = _relation(book, inv, payer)
        ref_s = s.reference_strength[hit.form]
        agree = s.payer_agreement["other" if rel == "other" else ("unknown" if rel == "unknown" else "same")]
        if not cur_ok(inv):
            line = Line(inv, min(paid, book.open[inv])) if book.open[inv] > 0 else Line(inv, 0)
            opt = Option([line], "currency", "reference", hits=[hit], relation=rel)
            opt.ref_part = ref_s * agree * 0.5
            opt.confidence = opt.ref_part
            if book.open[inv] > 0:
                options.append(opt)
            continue
        kind, line, surplus = fit_amount(book, inv, paid, when, s)
        if kind == "paid":
            duplicates.append(inv)
            continue
        opt = Option([line], kind, "reference", hits=[hit], relation=rel, surplus=surplus)
        opt.ref_part = ref_s * s.amount_strength[kind] * agree
        opt.confidence = opt.ref_part
        options.append(opt)

    # 2. several named invoices paid together
    named_open = [
        inv for inv, h in best_hit.items()
        if h.form in STRONG_FORMS or h.form == "digits-only"
        if book.open[inv] > 0 and cur_ok(inv)
    ]
    if len(named_open) >= 2:
        group = _named_group(t, book, s, named_open, best_hit, payer, when)
        if group is not None:
            options.append(group)

    # 3. the payer's own invoices whose amount fits
    if payer is not None:
        scope = book.scope(payer.customers)
        fits: list[tuple[str, Line]] = []
        # the loop every payment with a known payer runs: fit_amount's tests inlined for the payer's
        # invoices, the function called only for the (few) that fit
        opn, disc, tol, cur, curs = book.open, book.discount, s.bank_charges_cents, t.currency, book.currency
        for inv in scope:
            o = opn[inv]
            if o <= 0:
                continue
            diff = o - paid
            if diff != 0 and not (0 < diff <= tol) and not (disc[inv] and diff == disc[inv]):
                continue
            if cur and curs[inv] and curs[inv] != cur:
                continue
            kind, line, _ = fit_amount(book, inv, paid, when, s)
            if kind in FIT_KINDS:
                fits.append((kind, line))
        tier = [f for f in fits if f[0] != "bank-charges"] or fits
        unique = len(tier) == 1
        named = {o.invoices[0]: o for o in options if o.route == "reference" and len(o.lines) == 1}
        for kind, line in fits:
            in_tier = (kind, line) in tier
            factor = 1.0 if unique and in_tier else s.twin_factor
            if not in_tier:
                factor *= 0.5
            rel = _relation(book, line.inv, payer)
            part = payer.score * s.amount_strength[kind] * factor
            opt = named.get(line.inv)
            if opt is not None:
                opt.payer_part = part
                opt.unique = unique and in_tier
                opt.confidence = _combine(opt.ref_part, part)
            else:
                options.append(
                    Option([line], kind, "payer", confidence=part, relation=rel, unique=unique and in_tier, payer_part=part)
                )
        if not fits and not any(o.kind in FIT_KINDS or o.kind == "multi" for o in options):
            options.extend(_subset_options(t, book, s, scope, payer, cur_ok, best_hit))
            if not options and not best_hit:
                for inv in scope:
                    if book.open[inv] <= 0 and book.amount[inv] == paid and cur_ok(inv):
                        duplicates.append(inv)

    # 4. nothing but the amount: suggestions for a person, never posted
    if not options and not best_hit and payer is None:
        for inv in t.amount_only:
            if book.open[inv] > 0 and cur_ok(inv):
                kind, line, _ = fit_amount(book, inv, paid, when, s)
                if kind in FIT_KINDS:
                    options.append(Option([line], kind, "amount-only", confidence=0.3, relation="unknown"))

    return _choose(t, book, s, options, best_hit, duplicates, payer, when)


def _names_open_invoice_exactly(t: TxnFacts, best_hit: dict[int, RefHit], book: InvoiceBook) -> bool:
    """The safety net of the ignore rules: the text names an open invoice strongly with its exact amount."""
    return any(
        h.form in STRONG_FORMS and book.open[inv] == t.amount and book.open[inv] > 0 for inv, h in best_hit.items()
    )


def _named_group(
    t: TxnFacts, book: InvoiceBook, s: MatchSettings, invs: list[int], best_hit: dict[int, RefHit],
    payer: Payer | None, when: date,
) -> Option | None:
    """All named invoices together, when their open amounts (less discounts in time, less bank
    charges on the total) make the payment."""
    paid = t.amount
    invs = sorted(invs, key=lambda i: (book.due[i], book.ids[i]))
    total = sum(book.open[i] for i in invs)
    lines: list[Line]
    kind = "multi"
    if paid == total:
        lines = [Line(i, book.open[i]) for i in invs]
    else:
        with_disc = []
        for i in invs:
            d = book.discount[i]
            if d and 0 < d < book.open[i] and book.discount_until[i] and when.toordinal() <= book.discount_until[i] + s.discount_grace_days:
                with_disc.append(Line(i, book.open[i] - d, d, "discount"))
            else:
                with_disc.append(Line(i, book.open[i]))
        short = total - paid
        if sum(ln.cash for ln in with_disc) == paid and any(ln.adjustment for ln in with_disc):
            lines = with_disc
        elif 0 < short <= s.bank_charges_cents and short * 100 <= total * s.bank_charges_max_pct:
            lines = [Line(i, book.open[i]) for i in invs]
            last = lines[-1]
            lines[-1] = Line(last.inv, last.cash - short, short, "bank-charges")
            if lines[-1].cash < 0:
                return None
        else:
            return None
    hits = [best_hit[i] for i in invs]
    ref_s = min(s.reference_strength[h.form] for h in hits)
    rels = {_relation(book, i, payer) for i in invs}
    rel = "other" if "other" in rels else ("unknown" if "unknown" in rels else "same")
    opt = Option(lines, kind, "multi-invoice", hits=hits, relation=rel)
    opt.ref_part = ref_s * s.payer_agreement[rel] * (1.0 if all(ln.adjustment == 0 for ln in lines) else 0.98)
    opt.confidence = opt.ref_part
    return opt


def _subset_options(
    t: TxnFacts, book: InvoiceBook, s: MatchSettings, scope: list[int], payer: Payer, cur_ok: Any,
    best_hit: dict[int, RefHit],
) -> list[Option]:
    """Unnamed invoices of the payer that together make the payment exactly (unique subset only posts)."""
    cands = [i for i in scope if 0 < book.open[i] <= t.amount and cur_ok(i)]
    if len(cands) < 2:
        return []
    cands.sort(key=lambda i: (book.due[i], book.ids[i]))
    cands = cands[: s.max_subset_candidates]
    result = find_subsets(
        t.amount, [book.open[i] for i in cands], max_size=s.max_subset_size, max_nodes=s.max_subset_nodes
    )
    if not result.solutions:
        return []
    unique = len(result.solutions) == 1 and result.complete
    out = []
    for sol in result.solutions:
        lines = [Line(cands[k], book.open[cands[k]]) for k in sol]
        lines.sort(key=lambda ln: (book.due[ln.inv], book.ids[ln.inv]))
        part = payer.score * s.multi_invoice_factor * (1.0 if unique else s.twin_factor)
        hits = [best_hit[ln.inv] for ln in lines if ln.inv in best_hit]
        out.append(Option(lines, "subset", "multi-invoice", confidence=part, hits=hits, relation="same", unique=unique,
                          payer_part=part))
    return out


def _choose(
    t: TxnFacts, book: InvoiceBook, s: MatchSettings, options: list[Option], best_hit: dict[int, RefHit],
    duplicates: list[int], payer: Payer | None, when: date,
) -> Decision:
    day = when.toordinal()

    def rank(o: Option) -> tuple[float, int, tuple[int, ...]]:
        # equal confidence: the oldest invoice first (payers clear the oldest first); with nothing
        # but the amount, the invoice due nearest to the payment
        due = min(book.due[i] for i in o.invoices)
        return (-o.confidence, abs(due - day) if o.route == "amount-only" else due, o.invoices)

    options.sort(key=rank)
    best = options[0] if options else None
    competitors = [o for o in options[1:] if best is not None and not set(o.invoices) <= set(best.invoices)]
    second = competitors[0].confidence if competitors else 0.0
    strong_left_out = [
        inv for inv, h in best_hit.items()
        if h.form in STRONG_FORMS and (best is None or inv not in best.invoices)
        and not (best is not None and _typo_of(book, inv, best, t, s, when))
    ]

    blocked: str | None = None
    if best is None:
        blocked = "none"
    elif best.kind == "currency":
        blocked = "currency-mismatch"
    elif best.confidence < s.auto_post_threshold:
        blocked = "low"
    elif best.confidence - second < s.min_margin:
        blocked = "ambiguous"
    elif strong_left_out:
        blocked = "named-elsewhere"
    elif best.kind == "partial" and (not s.post_partial_payments or best.relation not in ("same", "parent")):
        # the amount disagrees, so the payer must agree: a reference alone may be a typo naming another invoice
        blocked = "amount-mismatch"
    elif best.kind == "overpayment" and not _overpayment_postable(t, book, s, best):
        blocked = "overpayment"
    elif any(ln.adjustment > s.four_eyes_limit_cents for ln in best.lines if s.four_eyes_limit_cents is not None):
        blocked = None  # posted pending_approval: posting keeps it in the queue for a second person

    if blocked is None and best is not None:
        customer = _payer_customer(book, best, payer)
        ev = evidence(t, book, best, payer, when)
        mistyped = [i for i, h in best_hit.items() if i not in best.invoices and h.form in STRONG_FORMS]
        if mistyped and "reference" not in ev:
            h = best_hit[mistyped[0]]
            ev["reference"] = {"found": original_text(t.texts.get(h.field), h.found), "in": h.field, "match": "typo",
                               "invoice": book.ids[best.lines[0].inv], "names_also": book.ids[mistyped[0]]}
        return Decision(
            "post",
            _post_reason(best, payer),
            best.confidence,
            lines=list(best.lines),
            remainder="unapplied" if best.kind == "overpayment" else "error",
            evidence=ev,
            customer_id=customer,
        )

    reason, detail = _queue_reason(t, book, blocked, best, second, duplicates, strong_left_out, payer, options)
    suggestions = []
    for opt in options[: s.max_suggestions]:
        if opt.kind == "currency" or all(ln.cash + ln.adjustment > 0 for ln in opt.lines):
            suggestions.append(
                (list(opt.lines), opt.confidence, _post_reason(opt, payer), evidence(t, book, opt, payer, when))
            )
    if not suggestions and payer is not None and reason in ("no-candidate", "amount-mismatch", "low-confidence"):
        # the payer is known but nothing fits: its open invoices, closest amount first, help a person
        scope = [i for i in book.scope(payer.customers) if book.open[i] > 0]
        scope.sort(key=lambda i: (abs(book.open[i] - t.amount), book.due[i]))
        for inv in scope[: s.max_suggestions]:
            kind, line, _ = fit_amount(book, inv, t.amount, when, s)
            opt = Option([line], kind, "payer", confidence=0.2 * payer.score, relation=_relation(book, inv, payer))
            suggestions.append((list(opt.lines), opt.confidence, "payer-open-item", evidence(t, book, opt, payer, when)))
        if suggestions:
            reason = "amount-mismatch"
            detail = detail or "the payer is known, but no open invoice of it fits the amount"
    customer = payer.customers[0] if payer is not None and len(payer.customers) == 1 else None
    return Decision(
        "queue", reason, best.confidence if best else 0.0, customer_id=customer, detail=detail, suggestions=suggestions
    )


def _typo_of(book: InvoiceBook, named: int, best: Option, t: TxnFacts, s: MatchSettings, when: date) -> bool:
    """The text names ``named`` (open, its amount does not fit) while the best candidate is an invoice
    whose number is one typo away: the payer mistyped the number, the amount tells which one is meant."""
    if book.open[named] <= 0 or best.route != "payer" or len(best.lines) != 1:
        return False
    if fit_amount(book, named, t.amount, when, s)[0] in FIT_KINDS:
        return False
    return within_one_edit(compact(book.ids[named]), compact(book.ids[best.lines[0].inv]))


def _overpayment_postable(t: TxnFacts, book: InvoiceBook, s: MatchSettings, best: Option) -> bool:
    if s.overpayment != "unapplied" or best.route != "reference" or best.relation not in ("same", "parent"):
        return False
    if not best.hits or best.hits[0].form not in STRONG_FORMS:
        return False
    inv = best.lines[0].inv
    cust = book.customer[inv]
    # a surplus that is exactly another open invoice of the customer is probably that invoice
    return not any(
        i != inv and book.open[i] == best.surplus for i in book.scope((cust,))
    )


def _payer_customer(book: InvoiceBook, best: Option, payer: Payer | None) -> str:
    first = book.customer[best.lines[0].inv]
    if payer is not None and best.relation in ("same", "parent"):
        if first in payer.customers:
            return first
        if book.parent.get(first) in payer.customers:
            return book.parent[first]
    return first


def _post_reason(opt: Option, payer: Payer | None) -> str:
    if opt.route == "multi-invoice":
        return "multi-invoice"
    if opt.kind == "discount":
        return "discount"
    if opt.kind == "bank-charges":
        return "bank-charges"
    if opt.kind == "partial":
        return "partial-payment"
    if opt.kind == "overpayment":
        return "overpayment"
    if opt.kind == "currency":
        return "currency-mismatch"
    if opt.route == "amount-only":
        return "amount-only"
    named = opt.route == "reference" and bool(opt.hits)
    if named and (opt.hits[0].form != "typo" or opt.ref_part >= opt.payer_part):
        form = opt.hits[0].form
        if form == "rf":
            return "rf-reference+amount"
        if form == "typo":
            return "reference-typo+amount"
        return "reference+amount"
    if payer is not None and payer.by in ("account", "learned-account"):
        return "account+amount"
    return "name+amount"


def _queue_reason(
    t: TxnFacts, book: InvoiceBook, blocked: str | None, best: Option | None, second: float,
    duplicates: list[int], strong_left_out: list[int], payer: Payer | None, options: list[Option],
) -> tuple[str, str | None]:
    if duplicates and (best is None or blocked in ("low", "named-elsewhere", "ambiguous")):
        names = ", ".join(book.ids[i] for i in duplicates[:3])
        return "possible-duplicate", f"{names} is already paid; this may be a second payment"
    if best is None:
        if payer is None:
            return "unknown-payer", "neither the payer nor an invoice could be identified"
        return "no-candidate", f"the payer looks like {', '.join(payer.customers)}, but no open invoice fits"
    if blocked == "currency-mismatch":
        inv = best.lines[0].inv
        return "currency-mismatch", (
            f"{book.ids[inv]} is in {book.currency[inv]} ({cents(book.open[inv])} open), "
            f"the payment in {t.currency} ({cents(t.amount)})"
        )
    if blocked == "ambiguous":
        return "ambiguous", "two or more candidates fit nearly as well"
    if blocked == "named-elsewhere":
        names = ", ".join(book.ids[i] for i in strong_left_out[:3])
        return "ambiguous", f"the text also names {names}, which the best candidate leaves out"
    if blocked == "overpayment" or best.kind == "overpayment":
        return "overpayment", f"the payment is {cents(best.surplus)} more than the open amount"
    if best.kind == "partial":
        return "amount-mismatch", "the payment is less than the open amount"
    if not best.unique or (best.route == "multi-invoice" and best.kind == "subset" and not best.unique):
        return "ambiguous", "the amount fits several open invoices of the payer"
    if best.route == "amount-only":
        return "unknown-payer", "the payer is not known; only the amount fits"
    return "low-confidence", None


# --- evidence -------------------------------------------------------------------------------------


def original_text(text: str | None, found: str) -> str:
    """The piece of ``text`` as the payer wrote it that the tokens ``found`` were read from.

    >>> original_text("Zahlung inv/2026/42 danke", "INV 2026 42")
    'inv/2026/42'
    """
    if not text or not found:
        return found
    if text.isascii():  # the common case: the usual separators, found by str.find
        upper = text.upper()
        parts = found.split(" ")
        for sep in ("-", " ", "/", "", ".", "_", " / ", " - "):
            cand = sep.join(parts)
            at = upper.find(cand)
            if at >= 0:
                return text[at: at + len(cand)]
    norm = unicodedata.normalize("NFKC", text)
    want = found.split(" ")
    spans = [(m.start(), m.end(), m.group(0).upper()) for m in _ASCII_TOKEN.finditer(norm)]
    n = len(want)
    for k in range(len(spans) - n + 1):
        if all(spans[k + j][2] == want[j] for j in range(n)):
            return norm[spans[k][0]: spans[k + n - 1][1]]
    return found


def evidence(t: TxnFacts, book: InvoiceBook, opt: Option, payer: Payer | None, when: date) -> dict[str, Any]:
    """Which fields matched and how strongly, readable by an accountant (stored as JSON)."""
    ev: dict[str, Any] = {}
    if opt.hits:
        refs = [
            {"found": original_text(t.texts.get(h.field), h.found), "in": h.field, "match": h.form,
             "invoice": book.ids[h.inv]}
            for h in opt.hits
        ]
        ev["reference"] = refs[0] if len(refs) == 1 else refs
    expected = sum(book.open[ln.inv] for ln in opt.lines)
    amount: dict[str, Any] = {"expected": cents(expected), "paid": cents(t.amount), "match": opt.kind}
    adjust = sum(ln.adjustment for ln in opt.lines)
    if adjust:
        amount["adjustment"] = cents(adjust)
        amount["adjustment_reason"] = opt.lines[-1].adjustment_reason if len(opt.lines) == 1 else "see lines"
    if t.amount != expected:
        amount["difference"] = cents(t.amount - expected)
    if len(opt.lines) > 1:
        amount["invoices"] = {book.ids[ln.inv]: cents(book.open[ln.inv]) for ln in opt.lines}
    ev["amount"] = amount
    if payer is not None:
        p: dict[str, Any] = {"by": payer.by, "customer_id": ",".join(payer.customers), "score": round(payer.score, 3)}
        if payer.name:
            p["name"] = payer.name
        if opt.relation == "parent":
            p["pays_for"] = book.customer[opt.lines[0].inv]
        elif opt.relation == "other":
            p["invoice_customer"] = book.customer[opt.lines[0].inv]
        ev["payer"] = p
    else:
        ev["payer"] = {"by": "none"}
    if opt.kind == "currency":
        inv = opt.lines[0].inv
        ev["currency"] = {
            "invoice": book.currency[inv], "paid": t.currency, "open": cents(book.open[inv]), "payment": cents(t.amount),
        }
    if len(opt.lines) == 1:
        due = book.due[opt.lines[0].inv]
        if due:
            ev["date"] = {"due": date.fromordinal(due).isoformat(), "days_after_due": when.toordinal() - due}
    if not opt.unique:
        ev["unique"] = False
    ev["confidence"] = {"reference": round(opt.ref_part, 4), "payer": round(opt.payer_part, 4), "total": round(opt.confidence, 4)}
    return ev
