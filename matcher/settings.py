"""The matcher's settings, read once from the rules file (``[matching]``, ``[ignore]``, ``[posting]``).

Money tolerances are kept in integer cents; strengths and thresholds are
floats only because they are scores, never money.  Per-customer overrides
(``[customers."C1".matching]``) give that customer its own settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from matcher.references import DEFAULT_STRENGTH
from rules import Rules, RulesError

AMOUNT_KINDS = ("exact", "discount", "bank-charges", "partial", "overpayment")


def _cents(value: Any, key: str) -> int:
    try:
        return int((Decimal(str(value)) * 100).quantize(Decimal(1)))
    except (InvalidOperation, ValueError):
        raise RulesError(f"matching: {key} must be an amount such as \"15.00\", not {value!r}") from None


def _score(value: Any, key: str) -> float:
    try:
        out = float(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        raise RulesError(f"matching: {key} must be a number between 0 and 1, not {value!r}") from None
    if not 0 <= out <= 1:
        raise RulesError(f"matching: {key} must be between 0 and 1, not {value!r}")
    return out


@dataclass(frozen=True, slots=True)
class IgnoreRule:
    """One ``[[ignore.rules]]`` entry: a reason and regular expressions per field (any may match)."""

    reason: str
    patterns: dict[str, str]


@dataclass(frozen=True, slots=True)
class MatchSettings:
    """Everything the matcher decides by; see ``rules/default.toml`` for the meaning of each."""

    auto_post_threshold: float = 0.90
    min_margin: float = 0.10
    max_suggestions: int = 3
    bank_charges_cents: int = 1500
    bank_charges_max_pct: Decimal = Decimal("5")
    discount_grace_days: int = 3
    post_partial_payments: bool = True
    overpayment: str = "unapplied"
    max_subset_size: int = 5
    max_subset_candidates: int = 24
    max_subset_nodes: int = 50000
    multi_invoice_factor: float = 0.96
    max_amount_only_candidates: int = 5
    twin_factor: float = 0.5
    reference_strength: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_STRENGTH))
    amount_strength: dict[str, float] = field(
        default_factory=lambda: {"exact": 1.0, "discount": 0.98, "bank-charges": 0.95, "partial": 0.93, "overpayment": 0.93}
    )
    payer_agreement: dict[str, float] = field(default_factory=lambda: {"same": 1.0, "unknown": 0.97, "other": 0.75})
    account_score: float = 1.0
    name_score: float = 1.0
    truncated_score: float = 0.95
    truncated_min_length: int = 20
    fuzzy_threshold: float = 0.88
    fuzzy_threshold_cjk: float = 0.83
    fuzzy_margin: float = 0.05
    block_max_customers: int = 50
    four_eyes_limit_cents: int | None = 5000
    ignore_rules: tuple[IgnoreRule, ...] = ()

    @classmethod
    def from_rules(cls, rules: Rules) -> MatchSettings:
        """Settings from the merged rules (defaults for anything the file leaves out)."""
        m = rules.get("matching", {}) or {}
        p = m.get("payer", {}) or {}
        base = cls()
        overpayment = str(m.get("overpayment", base.overpayment))
        if overpayment not in ("unapplied", "queue"):
            raise RulesError(f"matching: overpayment must be \"unapplied\" or \"queue\", not {overpayment!r}")
        ref = dict(base.reference_strength)
        ref.update({k: _score(v, f"reference_strength.{k}") for k, v in (m.get("reference_strength") or {}).items()})
        amt = dict(base.amount_strength)
        amt.update({k: _score(v, f"amount_strength.{k}") for k, v in (m.get("amount_strength") or {}).items()})
        agree = dict(base.payer_agreement)
        agree.update({k: _score(v, f"payer_agreement.{k}") for k, v in (m.get("payer_agreement") or {}).items()})
        limit = rules.get("posting.four_eyes_limit")
        rules_list = []
        for i, entry in enumerate(rules.get("ignore.rules", []) or []):
            if not isinstance(entry, dict) or not entry.get("reason"):
                raise RulesError(f"ignore.rules[{i}]: every rule needs a reason")
            fields = {k: str(v) for k, v in entry.items() if k in ("counterparty_name", "remittance", "bank_code", "counterparty_account")}
            if not fields:
                raise RulesError(
                    f"ignore.rules[{i}] ({entry['reason']}): give a pattern for counterparty_name, remittance, "
                    "bank_code or counterparty_account"
                )
            rules_list.append(IgnoreRule(str(entry["reason"]), fields))
        return cls(
            auto_post_threshold=_score(m.get("auto_post_threshold", base.auto_post_threshold), "auto_post_threshold"),
            min_margin=_score(m.get("min_margin", base.min_margin), "min_margin"),
            max_suggestions=int(m.get("max_suggestions", base.max_suggestions)),
            bank_charges_cents=_cents(m.get("bank_charges_tolerance", "15.00"), "bank_charges_tolerance"),
            bank_charges_max_pct=Decimal(str(m.get("bank_charges_max_pct", base.bank_charges_max_pct))),
            discount_grace_days=int(m.get("discount_grace_days", base.discount_grace_days)),
            post_partial_payments=bool(m.get("post_partial_payments", base.post_partial_payments)),
            overpayment=overpayment,
            max_subset_size=int(m.get("max_subset_size", base.max_subset_size)),
            max_subset_candidates=int(m.get("max_subset_candidates", base.max_subset_candidates)),
            max_subset_nodes=int(m.get("max_subset_nodes", base.max_subset_nodes)),
            multi_invoice_factor=_score(m.get("multi_invoice_factor", base.multi_invoice_factor), "multi_invoice_factor"),
            max_amount_only_candidates=int(m.get("max_amount_only_candidates", base.max_amount_only_candidates)),
            twin_factor=_score(m.get("twin_factor", base.twin_factor), "twin_factor"),
            reference_strength=ref,
            amount_strength=amt,
            payer_agreement=agree,
            account_score=_score(p.get("account_score", base.account_score), "payer.account_score"),
            name_score=_score(p.get("name_score", base.name_score), "payer.name_score"),
            truncated_score=_score(p.get("truncated_score", base.truncated_score), "payer.truncated_score"),
            truncated_min_length=int(p.get("truncated_min_length", base.truncated_min_length)),
            fuzzy_threshold=_score(p.get("fuzzy_threshold", base.fuzzy_threshold), "payer.fuzzy_threshold"),
            fuzzy_threshold_cjk=_score(p.get("fuzzy_threshold_cjk", base.fuzzy_threshold_cjk),
                                       "payer.fuzzy_threshold_cjk"),
            fuzzy_margin=_score(p.get("fuzzy_margin", base.fuzzy_margin), "payer.fuzzy_margin"),
            block_max_customers=int(p.get("block_max_customers", base.block_max_customers)),
            four_eyes_limit_cents=None if limit in (None, "") else _cents(limit, "posting.four_eyes_limit"),
            ignore_rules=tuple(rules_list),
        )


class SettingsBook:
    """The default settings and, lazily, those of customers with their own overrides."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.default = MatchSettings.from_rules(rules)
        self._overridden = set((rules.get("customers") or {}).keys())
        self._cache: dict[str, MatchSettings] = {}

    @property
    def has_overrides(self) -> bool:
        """Whether any customer has its own ``[customers."ID".matching]`` settings."""
        return bool(self._overridden)

    def for_customer(self, customer_id: str | None) -> MatchSettings:
        """The settings that apply to ``customer_id`` (the default when it has no overrides)."""
        if not customer_id or customer_id not in self._overridden:
            return self.default
        if customer_id not in self._cache:
            self._cache[customer_id] = MatchSettings.from_rules(self.rules.for_customer(customer_id))
        return self._cache[customer_id]
