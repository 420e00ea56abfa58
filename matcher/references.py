"""Invoice numbers and payment references: the keys under which a payer's text can name an invoice.

An invoice printed as ``INV-2026-0042`` comes back from payers as
``inv 2026 0042``, ``INV/2026/42``, ``20260042``, ``Ｉｎｖ２０２６００４２`` or
buried in ``Order 55 delivery 7781 INV2026-0042 of 14.10.``.  Both sides, the
invoice and every run of up to ``MAX_WINDOW`` adjacent tokens of the text, are
reduced to the same keys, and a key found on both sides is a reference hit:

========================  ===================================  =================
form                      ``INV-2026-0042`` becomes            strength of a hit
========================  ===================================  =================
``exact``                 ``INV20260042`` (no separators)      the strongest
``leading-zeros``         ``INV202642`` (zeros cut per group)  strong
``digits-only``           ``20260042`` (prefix dropped)        good
``digits-only`` (zeros)   ``202642``                           good
========================  ===================================  =================

A hit is as strong as the weaker of the two forms that met.  Digit-only keys
must be long (``MIN_DIGITS``) so that a year or a quantity never names an
invoice.  ISO 11649 creditor references (``RF18 5390 0754 7034``) are
validated with python-stdnum: only a reference whose check digits are right
is a hit of form ``rf``.  One typo in a long number (a digit replaced,
dropped, added, or two swapped) is found through deletion neighbourhoods and
is weak evidence (form ``typo``).

>>> sorted(invoice_keys("INV-2026-0042").items())
[('20260042', 'digits-only'), ('202642', 'digits-only'), ('INV20260042', 'exact'), ('INV202642', 'leading-zeros')]
>>> text_keys("paid inv 2026/42 thanks")["INV202642"]
('exact', 'INV 2026 42')
>>> text_keys("Rechnung 2026-0042")["20260042"]
('exact', '2026 0042')
>>> find_rf_references("ref rf18 5390 0754 7034 / RF00 1234")
['RF18539007547034']
>>> within_one_edit("40000123", "40001123"), within_one_edit("40000123", "40000213")
(True, True)
"""

from __future__ import annotations

import re

from stdnum import iso11649

from matcher.text import REFERENCE_TOKEN, normalize_text
from parsers.references import find_rf_references as _find_rf

FORMS = ("rf", "exact", "leading-zeros", "digits-only", "typo")
# How much a hit of each form says that the invoice is meant (1 = certain).  The
# rules file can override these (matching.reference_strength.<form>).
DEFAULT_STRENGTH = {"rf": 1.0, "exact": 1.0, "leading-zeros": 0.97, "digits-only": 0.93, "typo": 0.6}
_RANK = {form: i for i, form in enumerate(FORMS)}

MAX_WINDOW = 4  # adjacent tokens joined: "INV 2026 0042" is three
MAX_PREFIX_LETTERS = 4  # a letters-only token takes part in a window only when short (INV, RE, NR, FA)
MIN_KEY = 4  # shortest exact key that names an invoice
MIN_DIGITS = 6  # shortest digits-only key
MIN_TYPO = 7  # shortest number in which one typo is looked for

_ZEROS = re.compile(r"(^|[A-Z])0+([0-9])")
_NOT_ALNUM = re.compile(r"[^A-Z0-9]")
_LETTERS = re.compile(r"[A-Z]")


def weaker(a: str, b: str) -> str:
    """The weaker of two forms (a hit is only as strong as its weaker side)."""
    return a if _RANK[a] >= _RANK[b] else b


def compact(value: str) -> str:
    """``value`` upper case, NFKC, letters and digits only: ``inv-2026/0042`` -> ``INV20260042``."""
    return _NOT_ALNUM.sub("", normalize_text(value))


def strip_zeros(token: str) -> str:
    """Leading zeros cut from every digit group of a (compact, upper-case) token: ``INV0042`` -> ``INV42``."""
    return _ZEROS.sub(r"\1\2", token)


def invoice_keys(invoice_id: str, reference: str | None = None) -> dict[str, str]:
    """Every key under which text may name this invoice, with the key's form.

    The structured ``reference`` printed on the invoice counts like the
    invoice number; a valid RF reference is of form ``rf``.
    """
    keys: dict[str, str] = {}

    def add(key: str, form: str) -> None:
        if key and (key not in keys or _RANK[form] < _RANK[keys[key]]):
            keys[key] = form

    for value in (invoice_id, reference):
        if not value:
            continue
        norm = normalize_text(value)
        rf = compact(value)
        if rf.startswith("RF") and iso11649.is_valid(rf):
            add(rf, "rf")
            continue
        tokens = REFERENCE_TOKEN.findall(norm)
        exact = "".join(tokens)
        if len(exact) >= MIN_KEY and any(ch.isdigit() for ch in exact):
            add(exact, "exact")
            add("".join(strip_zeros(t) for t in tokens), "leading-zeros")
        digits = _LETTERS.sub("", exact)
        if len(digits) >= MIN_DIGITS:
            add(digits, "digits-only")
            zeros = _LETTERS.sub("", "".join(strip_zeros(t) for t in tokens))
            if len(zeros) >= MIN_DIGITS:
                add(zeros, "digits-only")
    return keys


def _eligible(token: str) -> bool:
    return any(ch.isdigit() for ch in token) or len(token) <= MAX_PREFIX_LETTERS


def text_keys(text: str | None) -> dict[str, tuple[str, str]]:
    """Every key the text offers: ``{key: (form, found)}`` where ``found`` is the tokens that made it.

    Windows of up to ``MAX_WINDOW`` adjacent tokens, each holding a digit or
    being a short letter prefix, and the window holding a digit.  This is the
    reference implementation; ``matcher.candidates`` computes the same keys
    over whole columns.
    """
    tokens = REFERENCE_TOKEN.findall(normalize_text(text))
    keys: dict[str, tuple[str, str]] = {}

    def add(key: str, form: str, found: str) -> None:
        if key not in keys or _RANK[form] < _RANK[keys[key][0]]:
            keys[key] = (form, found)

    for start in range(len(tokens)):
        if not _eligible(tokens[start]):
            continue
        for end in range(start + 1, min(start + MAX_WINDOW, len(tokens)) + 1):
            window = tokens[start:end]
            if not _eligible(window[-1]):
                break
            exact = "".join(window)
            if not any(ch.isdigit() for ch in exact):
                continue
            found = " ".join(window)
            if len(exact) >= MIN_KEY:
                add(exact, "exact", found)
                add("".join(strip_zeros(t) for t in window), "leading-zeros", found)
            digits = _LETTERS.sub("", exact)
            if len(digits) >= MIN_DIGITS:
                add(digits, "digits-only", found)
    for rf in find_rf_references(text):
        add(rf, "rf", rf)
    return keys


def find_rf_references(text: str | None) -> list[str]:
    """Valid ISO 11649 creditor references in ``text``, compact (``RF18539007547034``), in order.

    The one finder shared with the parsers (``parsers/references.py``).
    """
    return _find_rf(text)


def deletions(key: str) -> set[str]:
    """``key`` and every string made by deleting one character (a symmetric-delete neighbourhood)."""
    return {key} | {key[:i] + key[i + 1 :] for i in range(len(key))}


def within_one_edit(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by one replaced, inserted or deleted character, or two swapped
    neighbours (the typos a person makes copying a number)."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))
