"""Lines that are not customer payments: the ``[ignore]`` rules, applied over whole columns.

Interest, card-acquirer settlements, refunds from suppliers and bank fees
are set aside with the rule's reason rather than queued as exceptions.  The
rules are regular expressions (Rust ``regex`` syntax, as polars runs them;
``(?i)`` for case-insensitive) on ``counterparty_name``, ``remittance``,
``bank_code`` and ``counterparty_account``; the first rule that applies wins.
Debits are always set aside as ``debit`` by the decision itself.
"""

from __future__ import annotations

import polars as pl

from matcher.settings import IgnoreRule
from rules import RulesError


def check_rules(rules: tuple[IgnoreRule, ...]) -> None:
    """Raise :class:`RulesError` naming the rule whose expression polars cannot compile."""
    probe = pl.Series("x", ["probe"])
    for rule in rules:
        for field, pattern in rule.patterns.items():
            try:
                probe.str.contains(pattern)
            except Exception as exc:  # noqa: BLE001 - polars raises ComputeError for a bad pattern
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
                raise RulesError(f"ignore rule {rule.reason!r}: {field} is not a valid regular expression: {first}") from None


def ignore_reasons(txns: pl.DataFrame, rules: tuple[IgnoreRule, ...]) -> dict[int, str]:
    """``txn -> reason`` for credit lines that a rule sets aside (debits are left to the decision)."""
    if not rules or txns.height == 0:
        return {}
    check_rules(rules)
    expr: pl.Expr = pl.lit(None, dtype=pl.String)
    for rule in reversed(rules):  # built inside out so that the first rule wins
        cond: pl.Expr = pl.lit(False)
        for field, pattern in rule.patterns.items():
            if field in txns.columns:
                cond = cond | pl.col(field).fill_null("").str.contains(pattern)
        expr = pl.when(cond).then(pl.lit(rule.reason)).otherwise(expr)
    found = txns.filter(pl.col("amount_cents") > 0).select("txn", expr.alias("reason")).drop_nulls("reason")
    return dict(zip(found["txn"].to_list(), found["reason"].to_list(), strict=True))
