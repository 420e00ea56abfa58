"""The column-wise key computation agrees with the reference implementation, and joins find the invoice."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.candidates import (
    amount_only_candidates,
    invoice_key_frame,
    reference_hits,
    text_key_frame,
    typo_hits,
)
from matcher.references import FORMS, invoice_keys, text_keys

TEXTS = [
    "Invoice INV-2026-0042 thanks",
    "inv/2026/42, order 778812",
    "发票号４０００0123付款",
    "RF18 5390 0754 7034",
    "Rechnung 2026-0042 vom 14.10.2026 Kd-Nr 10042",
    "",
    "nothing here",
    "A B C 1 2 3 4 5 6 7",
]


def _text_frame(texts: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"txn": list(range(len(texts))), "remittance": texts}, schema={"txn": pl.Int64, "remittance": pl.String})


def _as_python(frame: pl.DataFrame, txn: int) -> dict[str, str]:
    rows = frame.filter(pl.col("txn") == txn)
    return {k: FORMS[r] for k, r in zip(rows["key"].to_list(), rows["rank"].to_list(), strict=True)}


def test_text_keys_columnwise_equal_reference() -> None:
    frame = text_key_frame(_text_frame(TEXTS))
    for i, text in enumerate(TEXTS):
        assert _as_python(frame, i) == {k: v[0] for k, v in text_keys(text).items()}, text


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet="ABINVrf0123456789 -/.，发票", max_size=40), min_size=1, max_size=5))
def test_text_keys_columnwise_equal_reference_property(texts: list[str]) -> None:
    frame = text_key_frame(_text_frame(texts))
    for i, text in enumerate(texts):
        assert _as_python(frame, i) == {k: v[0] for k, v in text_keys(text).items()}


def test_invoice_keys_columnwise_equal_reference() -> None:
    ids = ["INV-2026-0042", "40000123", "RE 2026/00017", "A-1", "F2026-0009"]
    refs = [None, None, "RF18 5390 0754 7034", None, "RF19 5390 0754 7034"]
    frame = invoice_key_frame(pl.DataFrame({"inv": list(range(len(ids))), "invoice_id": ids, "reference": refs},
                                           schema={"inv": pl.Int64, "invoice_id": pl.String, "reference": pl.String}))
    for i, (inv, ref) in enumerate(zip(ids, refs, strict=True)):
        rows = frame.filter(pl.col("inv") == i)
        got = {k: FORMS[r] for k, r in zip(rows["key"].to_list(), rows["rank"].to_list(), strict=True)}
        assert got == invoice_keys(inv, ref), inv


def _invoices(ids: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"inv": list(range(len(ids))), "invoice_id": ids, "reference": [None] * len(ids)},
                        schema={"inv": pl.Int64, "invoice_id": pl.String, "reference": pl.String})


def test_hits_take_the_weaker_form_of_the_pair() -> None:
    inv = invoice_key_frame(_invoices(["INV-2026-0042", "INV-2026-0043"]))
    hits = reference_hits(text_key_frame(_text_frame(["paid 2026-0042", "INV-2026-0043", "inv 2026 42"])), inv)
    got = {(t, i): f for t, i, f in hits.select("txn", "inv", "form").iter_rows()}
    assert got == {(0, 0): "digits-only", (1, 1): "exact", (2, 0): "leading-zeros"}


def test_typo_hits_only_within_one_edit() -> None:
    inv_frame = _invoices(["40000123", "40000999"])
    keys_inv = invoice_key_frame(inv_frame)
    texts = text_key_frame(_text_frame(["invoice 40001123", "invoice 40010124", "invoice 4000123"]))
    hits = typo_hits(texts, keys_inv, pl.Series([0, 1, 2]))
    assert sorted(hits.select("txn", "inv").iter_rows()) == [(0, 0), (2, 0)]
    assert set(hits["form"].to_list()) == {"typo"}


def test_amount_only_candidates_skip_common_amounts() -> None:
    invoices = pl.DataFrame({"inv": [0, 1, 2, 3], "open_cents": [12345, 5000, 5000, 5000], "currency": ["EUR"] * 4})
    txns = pl.DataFrame({"txn": [0, 1], "amount_cents": [12345, 5000], "currency": ["EUR", "EUR"]})
    got = amount_only_candidates(txns, invoices, limit=2)
    assert got.rows() == [(0, 0)]
