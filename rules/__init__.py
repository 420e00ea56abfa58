"""The rules file: thresholds, tolerances and schedules recon decides by.

``rules/default.toml`` ships the documented defaults; ``--rules FILE``
overrides any subset of it (tables merge key by key), and a
``[customers."<customer_id>"]`` table overrides matching keys for one customer.
"""

from __future__ import annotations

import copy
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

DEFAULT_RULES = Path(__file__).with_name("default.toml")


class RulesError(Exception):
    """The rules file cannot be used; the message names the file and the key."""


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _read(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh, parse_float=Decimal)  # money and rates stay exact
    except FileNotFoundError:
        raise RulesError(f"{path}: no such rules file") from None
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{path}: not valid TOML: {exc}") from None


class Rules:
    """The merged rules; ``rules["matching"]["auto_post_threshold"]`` or ``rules.get("a.b", default)``."""

    def __init__(self, data: dict[str, Any], source: str) -> None:
        self.data = data
        self.source = source

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, dotted: str, default: Any = None) -> Any:
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def for_customer(self, customer_id: str | None) -> Rules:
        """The rules with the customer's overrides applied (``[customers."C1".matching]`` ...)."""
        override = (self.data.get("customers") or {}).get(customer_id or "")
        if not override:
            return self
        return Rules(_merge(self.data, override), f"{self.source} + customer {customer_id}")


def load_rules(path: str | Path | None = None) -> Rules:
    """The default rules, overridden by ``path`` when given."""
    data = _read(DEFAULT_RULES)
    source = str(DEFAULT_RULES)
    if path:
        data = _merge(data, _read(Path(path)))
        source = str(path)
    return Rules(data, source)
