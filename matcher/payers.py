"""Payer identification: which customer a payment comes from.

Strongest evidence first:

1. the account it is paid from: the customer master's accounts and those
   learned from people's decisions (``source = 'learned'``), joined over
   the whole column with polars;
2. the exact name or alias (customer master or learned), compared as
   :func:`matcher.names.core_name` (no case, accents, punctuation, legal
   forms; both umlaut spellings);
3. a name cut short by the bank format, compared as a prefix of exactly one
   customer's full name;
4. a fuzzy name (rapidfuzz ``token_sort_ratio``), compared only within blocks
   of customers that share a rare name token (or a token's first or last four
   letters, so one typo does not break every block); never every name
   with every name.

The ultimate debtor (a payment made on behalf of someone) is tried after the
counterparty name.  A parent company paying for its subsidiaries is handled by
the decision (the payer's scope includes its subsidiaries' invoices).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable

import polars as pl
from rapidfuzz import fuzz, process

from matcher.decision import Payer
from matcher.names import CJK, core_name, full_name, name_frame, name_tokens, strip_cut_legal_form
from matcher.settings import MatchSettings

_PREFIX = 16
_MAX_SCORED = 40
_CJK = re.compile(r"[\u3400-\u9fff]")


def compact_accounts(expr: pl.Expr) -> pl.Expr:
    """Account numbers compacted as ``ledger.posting.compact_account`` does (upper case, letters and digits)."""
    return expr.str.to_uppercase().str.replace_all(r"[^A-Z0-9]", "")


class NameIndex:
    """Every customer name and alias, normalised, with the lookups the identification needs."""

    def __init__(self, rows: Iterable[tuple[str, str, str]], settings: MatchSettings) -> None:
        """``rows``: (customer_id, name or alias, by) with ``by`` one of name, alias, learned-alias."""
        self.settings = settings
        self.core: dict[str, dict[str, str]] = defaultdict(dict)  # core -> {customer: by}
        self.full: dict[str, set[str]] = defaultdict(set)
        fulls: set[tuple[str, str]] = set()  # (full, customer)
        entries: list[tuple[str, str]] = []  # (core, customer)
        rows = list(rows)
        forms = name_frame(pl.Series([r[1] for r in rows], dtype=pl.String))
        for (customer, _raw, by), full, core in zip(rows, forms["full"].to_list(), forms["core"].to_list(), strict=True):
            if not core:
                continue
            prev = self.core[core].get(customer)
            if prev is None or by == "name":
                self.core[core][customer] = by
            self.full[full].add(customer)
            fulls.add((full, customer))
            entries.append((core, customer))
        self.entries = entries
        # sorted, so that the names a cut name begins are found by bisection (a name's neighbours)
        self.sorted_full = sorted(fulls)
        blocks: dict[str, list[int]] = defaultdict(list)
        for pos, (core, _) in enumerate(entries):
            for key in _block_keys(core):
                blocks[key].append(pos)
        limit = settings.block_max_customers
        self.blocks = {k: v for k, v in blocks.items() if len(v) <= limit}

    def identify(self, raw: str | None, full: str | None = None, core: str | None = None) -> Payer | None:
        """The customer(s) this name belongs to, or None (``full``/``core``: the name's forms, if known)."""
        if not raw or not raw.strip():
            return None
        s = self.settings
        if core is None or full is None:
            core, full = core_name(raw), full_name(raw)
        if not core:
            return None
        exact = self.core.get(core)
        if exact:
            customers = tuple(sorted(exact))
            if len(customers) == 1:
                return Payer(customers, s.name_score, exact[customers[0]], raw)
            narrowed = tuple(sorted(self.full.get(full, set()) & set(customers)))
            if len(narrowed) == 1:
                return Payer(narrowed, s.name_score, exact[narrowed[0]], raw)
            return Payer(customers, s.name_score * 0.85, "name", raw)
        if len(raw.strip()) >= s.truncated_min_length:
            hits = self._longer(full)
            if not hits:
                # the bank cut the name inside a legal form the master spells differently
                cut = self.core.get(strip_cut_legal_form(raw))
                hits = set(cut or ())
            if len(hits) == 1:
                return Payer(tuple(hits), s.truncated_score, "truncated-name", raw)
        return self._fuzzy(core, raw)

    def _longer(self, full: str) -> set[str]:
        """The customers with a full name that begins with ``full`` (of at least ``_PREFIX`` characters)
        and goes on: ``full`` may be that name cut short by the bank format."""
        hits: set[str] = set()
        if len(full) < _PREFIX:
            return hits
        names = self.sorted_full
        n = len(full)
        for i in range(bisect_left(names, (full,)), len(names)):
            f, customer = names[i]
            if not f.startswith(full):
                break
            if len(f) > n:
                hits.add(customer)
        return hits

    def _fuzzy(self, core: str, raw: str) -> Payer | None:
        s = self.settings
        shared: dict[int, int] = {}
        for key in _block_keys(core):
            for pos in self.blocks.get(key, ()):
                shared[pos] = shared.get(pos, 0) + 1
        if not shared:
            return None
        # the names that share the most block keys are scored; a name sharing one rare key of many is not
        # (ties by position: ``shared`` was filled in the order of a set of strings, which changes with
        # Python's hash seed from run to run, and the choice must not)
        positions = sorted(shared, key=lambda p: (-shared[p], p))[:_MAX_SCORED]
        choices = [self.entries[p][0] for p in positions]
        scored = process.extract(core, choices, scorer=fuzz.token_sort_ratio, limit=8, score_cutoff=60)
        best: dict[str, float] = {}
        for _choice, score, k in scored:
            cust = self.entries[positions[k]][1]
            best[cust] = max(best.get(cust, 0.0), score / 100.0)
        if not best:
            return None
        ranked = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))
        top_cust, top = ranked[0]
        second = ranked[1][1] if len(ranked) > 1 else 0.0
        threshold = s.fuzzy_threshold_cjk if _CJK.search(core) else s.fuzzy_threshold
        if top < threshold or top - second < s.fuzzy_margin:
            return None
        return Payer((top_cust,), round(top, 4), "fuzzy-name", raw)


def _block_keys(core: str) -> set[str]:
    """Rare-token blocking keys of a core name: its words, neighbouring word pairs (far rarer than
    words), and the first and last four letters of long words (so one typo keeps a key)."""
    keys: set[str] = set()
    add = keys.add
    # most names have no CJK characters: their tokens are their words (one search, not one per word)
    toks = name_tokens(core) if CJK.search(core) else core.split()
    prev = None
    for tok in toks:
        n = len(tok)
        if n < 3 and not ("\u3400" <= tok[:1] <= "\u9fff"):
            prev = None
            continue
        add(tok)
        if prev is not None:
            add(prev + "+" + tok)
        if n >= 6:
            add("<" + tok[:4])
            add(">" + tok[-4:])
        prev = tok
    return keys


def identify_payers(
    txns: pl.DataFrame,
    accounts: pl.DataFrame,
    index: NameIndex,
) -> dict[int, Payer]:
    """``txn -> Payer`` for every transaction whose payer can be identified.

    ``txns``: ``txn, counterparty_account, counterparty_name, ultimate_debtor``;
    ``accounts``: ``customer_id, account, source``.
    """
    s = index.settings
    out: dict[int, Payer] = {}
    if txns.height == 0:
        return out
    acc = accounts.select(
        compact_accounts(pl.col("account")).alias("acct"), "customer_id", "source"
    ).unique(["acct", "customer_id"])
    by_account = (
        txns.select("txn", compact_accounts(pl.col("counterparty_account")).alias("acct"), "counterparty_name")
        .filter(pl.col("acct").is_not_null() & (pl.col("acct") != ""))
        .join(acc, on="acct")
        .group_by("txn")
        .agg(
            pl.col("customer_id").unique().sort(),
            (pl.col("source") == "master").any().alias("master"),
            pl.col("counterparty_name").first(),
        )
    )
    score = s.account_score
    for txn, customers, master, name in zip(
        *(by_account[c].to_list() for c in ("txn", "customer_id", "master", "counterparty_name")), strict=True
    ):
        out[txn] = Payer(tuple(customers), score, "account" if master else "learned-account", name)

    rest = txns.filter(~pl.col("txn").is_in(by_account["txn"].implode()))
    unique = pl.concat([rest["counterparty_name"], rest["ultimate_debtor"]]).drop_nulls().unique()
    forms = name_frame(unique)
    cache: dict[str, Payer | None] = {
        raw: index.identify(raw, full, core) for raw, full, core in forms.select("raw", "full", "core").iter_rows()
    }

    get = cache.get
    for txn, name, debtor in zip(rest["txn"].to_list(), rest["counterparty_name"].to_list(),
                                 rest["ultimate_debtor"].to_list(), strict=True):
        payer = (get(name) if name else None) or (get(debtor) if debtor else None)
        if payer is not None:
            out[txn] = payer
    return out


def name_rows(customers: pl.DataFrame, aliases: pl.DataFrame) -> list[tuple[str, str, str]]:
    """(customer_id, name, by) for the :class:`NameIndex`: legal names and aliases (master or learned)."""
    rows = [(c, n, "name") for c, n in customers.select("customer_id", "name").iter_rows() if n]
    rows += [
        (c, a, "learned-alias" if src == "learned" else "alias")
        for c, a, src in aliases.select("customer_id", "alias", "source").iter_rows()
        if a
    ]
    return rows
