"""Candidates in bulk: which invoices each transaction's text names, and which match its amount alone.

The keys of :mod:`matcher.references` computed over whole columns with polars
(``str.extract_all``, shifts within a transaction, joins on the key), so that
a million remittance texts meet a million invoices in seconds.  The Python
functions in :mod:`matcher.references` are the reference implementation; the
tests check that both give the same keys.

Frames:

* text keys: ``txn`` (row index), ``field`` (remittance, creditor-reference,
  end-to-end-id), ``key``, ``rank`` (form rank, 0 = strongest), ``found``;
* invoice keys: ``inv`` (row index, or the invoice id for stored keys), ``key``, ``rank``;
* hits: ``txn``, ``inv``, ``form``, ``found``, ``field``: the best form per pair.
"""

from __future__ import annotations

import polars as pl
from stdnum import iso11649

from matcher.references import (
    FORMS,
    MAX_PREFIX_LETTERS,
    MAX_WINDOW,
    MIN_DIGITS,
    MIN_KEY,
    MIN_TYPO,
    within_one_edit,
)

_RANK = {form: i for i, form in enumerate(FORMS)}
_TOKEN = r"[A-Z0-9]+"
_RF = r"RF[0-9]{2}(?: ?[0-9A-Z]){1,21}"
_ZEROS = r"(^|[A-Z])0+([0-9])"
TEXT_FIELDS = ("remittance", "creditor_reference", "end_to_end_id")
FIELD_LABEL = {"remittance": "remittance", "creditor_reference": "creditor-reference", "end_to_end_id": "end-to-end-id"}


def _norm(expr: pl.Expr) -> pl.Expr:
    return expr.str.normalize("NFKC").str.to_uppercase()


def invoice_key_frame(invoices: pl.DataFrame) -> pl.DataFrame:
    """Keys of every invoice (columns ``inv``, ``invoice_id``, ``reference``) -> ``inv, key, rank``."""
    parts = []
    for col in ("invoice_id", "reference"):
        base = invoices.select(
            pl.col("inv"), _norm(pl.col(col)).alias("norm")
        ).filter(pl.col("norm").is_not_null() & (pl.col("norm") != ""))
        toks = base.with_columns(
            pl.col("norm").str.replace_all("[^A-Z0-9]", "").alias("exact"),
            # zeros cut at the start of every digit group: after the start, a letter or a separator
            pl.col("norm").str.replace_all(r"(^|[^0-9])0+([0-9])", "${1}${2}").str.replace_all("[^A-Z0-9]", "")
            .alias("zeros"),
        ).with_columns(
            pl.col("exact").str.replace_all("[A-Z]", "").alias("digits"),
            pl.col("zeros").str.replace_all("[A-Z]", "").alias("dzeros"),
            (pl.col("exact").str.starts_with("RF") & (pl.col("exact").str.len_chars() <= 25)).alias("maybe_rf"),
        )
        rf_cands = toks.filter(pl.col("maybe_rf")).select("exact").unique()
        valid_rf = {v for v in rf_cands["exact"].to_list() if iso11649.is_valid(v)}
        is_rf = pl.col("exact").is_in(list(valid_rf)) if valid_rf else pl.lit(False)
        toks = toks.with_columns(is_rf.alias("rf"))
        has_digit = pl.col("exact").str.contains("[0-9]")
        parts.append(
            toks.filter(pl.col("rf")).select("inv", pl.col("exact").alias("key"), pl.lit(_RANK["rf"]).alias("rank"))
        )
        plain = toks.filter(~pl.col("rf"))
        ok_exact = (pl.col("exact").str.len_chars() >= MIN_KEY) & has_digit
        parts.append(plain.filter(ok_exact).select("inv", pl.col("exact").alias("key"), pl.lit(_RANK["exact"]).alias("rank")))
        parts.append(plain.filter(ok_exact).select("inv", pl.col("zeros").alias("key"), pl.lit(_RANK["leading-zeros"]).alias("rank")))
        for col_d in ("digits", "dzeros"):
            parts.append(
                plain.filter(pl.col(col_d).str.len_chars() >= MIN_DIGITS).select(
                    "inv", pl.col(col_d).alias("key"), pl.lit(_RANK["digits-only"]).alias("rank")
                )
            )
    out = pl.concat([p.with_columns(pl.col("rank").cast(pl.Int8)) for p in parts])
    if out.height > 2_000_000:
        # a key of one invoice under two forms (INV-1001: exact and leading-zeros alike) costs
        # nothing in the joins but memory: at this size it is worth folding
        return out.group_by("inv", "key").agg(pl.col("rank").min())
    return out.sort("rank").unique(["inv", "key"], keep="first", maintain_order=False)


def text_key_frame(txns: pl.DataFrame, known: pl.DataFrame | None = None) -> pl.DataFrame:
    """Keys in every transaction's text fields (columns ``txn`` and :data:`TEXT_FIELDS`).

    With ``known`` (a frame with a ``key`` column: the invoices' keys), only keys that
    can meet an invoice are kept, plus the long numbers the one-typo search needs.
    """
    return fold_text_keys(raw_text_keys(txns), known)


_TEXT_KEY_SCHEMA = {"txn": pl.Int64, "field": pl.String, "key": pl.String, "rank": pl.Int8, "found": pl.String}
# raw readings also carry ``ndig``, the digits in the key (known from the tokens: no regex over millions of keys)
_RAW_KEY_SCHEMA = {"txn": pl.Int64, "key": pl.String, "rank": pl.Int8, "found": pl.String, "ndig": pl.UInt32,
                   "field": pl.String}


def raw_text_keys(txns: pl.DataFrame) -> pl.DataFrame:
    """Every key read from the texts, one row per reading (:func:`fold_text_keys` makes the text keys)."""
    frames = []
    for col in TEXT_FIELDS:
        if col not in txns.columns:
            continue
        base = txns.select(pl.col("txn"), _norm(pl.col(col)).alias("norm")).filter(
            pl.col("norm").is_not_null() & (pl.col("norm") != "")
        )
        if base.height == 0:
            continue
        frames.append(_window_keys(base, FIELD_LABEL[col]))
        frames.append(_rf_keys(base, FIELD_LABEL[col]))
    frames = [f for f in frames if f.height]
    if not frames:
        return pl.DataFrame(schema=_RAW_KEY_SCHEMA)
    return pl.concat(frames)


def fold_text_keys(raw: pl.DataFrame, known: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per transaction and key, the best reading (see :func:`text_key_frame`)."""
    out = raw
    if out.height == 0:
        return pl.DataFrame(schema=_TEXT_KEY_SCHEMA)
    if known is not None:
        typo_candidate = (
            (pl.col("rank") == _RANK["exact"])
            & (pl.col("key").str.len_bytes() >= MIN_TYPO)
            & (pl.col("ndig") >= MIN_TYPO - 2)
        )
        out = out.filter(pl.col("key").is_in(known["key"].unique().implode()) | typo_candidate)
    # a stable sort: among keys of one rank, the first found (field order, then text order) is reported
    return out.sort("rank", maintain_order=True).group_by("txn", "key", maintain_order=True).agg(
        pl.col("rank").first(), pl.col("found").first(), pl.col("field").first()
    ).select("txn", "field", "key", "rank", "found")


def _window_keys(base: pl.DataFrame, field: str) -> pl.DataFrame:
    toks = (
        base.select(
            "txn",
            pl.col("norm").str.extract_all(_TOKEN).alias("tok"),
        )
        .with_columns(pl.int_ranges(0, pl.col("tok").list.len()).alias("pos"))
        .explode("tok", "pos")
        .drop_nulls("tok")
    )
    # per token once: has a digit, length, zeros cut, digits only (the windows only concatenate these)
    toks = toks.with_columns(
        pl.col("tok").str.contains("[0-9]").alias("d"),
        pl.col("tok").str.len_bytes().alias("n"),
    ).filter(pl.col("d") | (pl.col("n") <= MAX_PREFIX_LETTERS))
    toks = toks.with_columns(
        pl.col("tok").str.replace_all(_ZEROS, "${1}${2}").alias("z"),
        pl.col("tok").str.replace_all("[A-Z]", "").alias("g"),
    )
    # rows are in (txn, pos) order: a window is this row and the next w-1 rows of the same
    # transaction at consecutive positions (all eligible, since only eligible rows are left)
    out = []
    exact, zeros, digits, found = pl.col("tok"), pl.col("z"), pl.col("g"), pl.col("tok")
    has_digit, length = pl.col("d"), pl.col("n")
    valid: pl.Expr = pl.lit(True)
    for w in range(1, MAX_WINDOW + 1):
        if w > 1:
            k = w - 1
            exact = exact + pl.col("tok").shift(-k)
            zeros = zeros + pl.col("z").shift(-k)
            digits = digits + pl.col("g").shift(-k)
            found = found + pl.lit(" ") + pl.col("tok").shift(-k)
            has_digit = has_digit | pl.col("d").shift(-k)
            length = length + pl.col("n").shift(-k)
            valid = (pl.col("txn").shift(-k) == pl.col("txn")) & (pl.col("pos").shift(-k) == pl.col("pos") + k)
        win = toks.select(
            "txn", exact.alias("exact"), zeros.alias("zeros"), digits.alias("digits"), found.alias("found"),
            length.alias("length"), (valid & has_digit).alias("ok"),
        ).filter(pl.col("ok"))
        win = win.with_columns(pl.col("digits").str.len_bytes().alias("ndig"))
        long_ = win.filter(pl.col("length") >= MIN_KEY)
        out.append(long_.select("txn", pl.col("exact").alias("key"), pl.lit(_RANK["exact"]).alias("rank"), "found",
                                "ndig"))
        out.append(long_.select("txn", pl.col("zeros").alias("key"), pl.lit(_RANK["leading-zeros"]).alias("rank"),
                                "found", "ndig"))
        out.append(
            win.filter(pl.col("ndig") >= MIN_DIGITS).select(
                "txn", pl.col("digits").alias("key"), pl.lit(_RANK["digits-only"]).alias("rank"), "found", "ndig"
            )
        )
    frame = pl.concat([f.with_columns(pl.col("rank").cast(pl.Int8)) for f in out])
    return frame.with_columns(pl.lit(field).alias("field"))


def _rf_keys(base: pl.DataFrame, field: str) -> pl.DataFrame:
    cands = (
        base.select("txn", pl.col("norm").str.extract_all(_RF).alias("rf"))
        .explode("rf")
        .drop_nulls("rf")
        .with_columns(pl.col("rf").str.replace_all(" ", ""))
    )
    if cands.height == 0:
        return pl.DataFrame(schema=_RAW_KEY_SCHEMA)
    valid: dict[str, str] = {}
    for raw in cands["rf"].unique().to_list():
        for end in range(len(raw), 4, -1):
            if iso11649.is_valid(raw[:end]):
                valid[raw] = raw[:end]
                break
    mapped = cands.with_columns(pl.col("rf").replace_strict(valid, default=None).alias("key")).drop_nulls("key")
    return mapped.select(
        pl.col("txn").cast(pl.Int64), "key", pl.lit(_RANK["rf"]).cast(pl.Int8).alias("rank"),
        pl.col("key").alias("found"), pl.lit(0, dtype=pl.UInt32).alias("ndig"), pl.lit(field).alias("field"),
    )


def reference_hits(text_keys: pl.DataFrame, invoice_keys: pl.DataFrame) -> pl.DataFrame:
    """Join text keys with invoice keys: ``txn, inv, form, found, field``, the best form per pair."""
    joined = text_keys.join(invoice_keys, on="key", how="inner", suffix="_inv")
    joined = joined.with_columns(pl.max_horizontal("rank", "rank_inv").alias("form_rank"))
    # sorted in full: a join's row order is not fixed, and which text the evidence quotes must not vary
    best = (
        joined.sort("form_rank", "txn", "inv", "field", "found")
        .group_by("txn", "inv", maintain_order=True)
        .agg(pl.col("form_rank").first(), pl.col("found").first(), pl.col("field").first())
    )
    return best.with_columns(
        pl.col("form_rank").replace_strict(dict(enumerate(FORMS)), return_dtype=pl.String).alias("form")
    ).select("txn", "inv", "form", "found", "field")


def typo_hits(text_keys: pl.DataFrame, invoice_keys: pl.DataFrame, txns_without_hits: pl.Series) -> pl.DataFrame:
    """One-typo hits for transactions that have no other hit.

    Every long number in such a text is varied by one typo (a digit replaced, inserted or dropped,
    two neighbours swapped) and the variants are joined with the invoices' exact keys; each pair is
    confirmed with :func:`~matcher.references.within_one_edit`.  The variants are made on the text
    side, which is the small side: a day's unmatched numbers, not the whole open book.
    """
    schema = {"txn": pl.Int64, "inv": invoice_keys.schema["inv"], "form": pl.String, "found": pl.String,
              "field": pl.String}
    tk = _typo_keys(text_keys, txns_without_hits)
    if tk.height == 0:
        return pl.DataFrame(schema=schema)
    ik = invoice_keys.filter((pl.col("rank") == _RANK["exact"]) & (pl.col("key").str.len_bytes() >= MIN_TYPO - 1))
    ik = ik.select("inv", pl.col("key").alias("variant"))
    keys = tk.select("key").unique()
    found_pairs = []
    for start in range(0, keys.height, 50_000):  # bounded memory: 22 variants per position
        found_pairs.append(_variants(keys.slice(start, 50_000)).join(ik, on="variant"))
    pairs = (
        pl.concat(found_pairs).filter(pl.col("key") != pl.col("variant"))
        .join(tk.select("txn", "key", "found", "field"), on="key")
        .sort("txn", "inv", "field", "found")  # which text is quoted must not vary from run to run
        .unique(["txn", "inv"], keep="first", maintain_order=True)
    )
    if pairs.height == 0:
        return pl.DataFrame(schema=schema)
    rows = [
        (t, i, "typo", f, fl)
        for t, i, k, v, f, fl in zip(
            pairs["txn"].to_list(), pairs["inv"].to_list(), pairs["key"].to_list(), pairs["variant"].to_list(),
            pairs["found"].to_list(), pairs["field"].to_list(), strict=True,
        )
        if within_one_edit(k, v)
    ]
    return pl.DataFrame(rows, schema=schema, orient="row")


def _typo_keys(text_keys: pl.DataFrame, txns_without_hits: pl.Series) -> pl.DataFrame:
    # in two steps: the digits are counted (a regex) only in the few keys the cheap tests leave
    return text_keys.filter(
        pl.col("txn").is_in(txns_without_hits.implode())
        & (pl.col("rank") == _RANK["exact"])
        & (pl.col("key").str.len_bytes() >= MIN_TYPO)
    ).filter(pl.col("key").str.count_matches("[0-9]") >= MIN_TYPO - 2)


def typo_variants(text_keys: pl.DataFrame, txns_without_hits: pl.Series) -> pl.Series:
    """Every invoice key :func:`typo_hits` could meet for these transactions (to look up stored keys)."""
    keys = _typo_keys(text_keys, txns_without_hits).select("key").unique()
    if keys.height == 0:
        return pl.Series("variant", [], dtype=pl.String)
    return pl.concat([_variants(keys.slice(start, 50_000))["variant"] for start in range(0, keys.height, 50_000)]).unique()


def _variants(keys: pl.DataFrame) -> pl.DataFrame:
    """``key, variant``: every string one typo away from each key (digits for replaced or added characters)."""
    key = pl.col("key")
    length = key.str.len_bytes()
    n_max = int(keys["key"].str.len_bytes().max() or 0)
    parts = []
    for i in range(n_max + 1):
        pre = key.str.slice(0, i)
        rest = key.str.slice(i)
        after = key.str.slice(i + 1)
        exprs = [pl.when(length > i).then(pre + after)]  # dropped
        exprs.append(pl.when(length > i + 1).then(pre + key.str.slice(i + 1, 1) + key.str.slice(i, 1) + key.str.slice(i + 2)))
        for d in "0123456789":
            exprs.append(pl.when(length > i).then(pre + pl.lit(d) + after))  # replaced
            exprs.append(pl.when(length >= i).then(pre + pl.lit(d) + rest))  # added
        part = keys.select("key", pl.concat_list(exprs).alias("variant")).explode("variant").drop_nulls("variant")
        parts.append(part)
    return pl.concat(parts).unique()


def amount_only_candidates(txns: pl.DataFrame, invoices: pl.DataFrame, limit: int) -> pl.DataFrame:
    """Open invoices whose open amount equals the payment (same currency), where at most ``limit`` do:
    ``txn, inv``.  Used only for payments with no payer and no reference, as suggestions."""
    if txns.height == 0:
        return pl.DataFrame(schema={"txn": pl.Int64, "inv": pl.Int64})
    inv = invoices.filter(pl.col("open_cents") > 0).select("inv", pl.col("open_cents").alias("amount_cents"), "currency")
    counts = inv.group_by("amount_cents", "currency").len().filter(pl.col("len") <= limit)
    inv = inv.join(counts.select("amount_cents", "currency"), on=["amount_cents", "currency"])
    return txns.select("txn", "amount_cents", "currency").join(inv, on=["amount_cents", "currency"]).select("txn", "inv")
