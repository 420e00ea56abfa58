"""Remittance text normalisation: what a payer typed, made comparable.

Bank remittance text arrives in every shape: lower or upper case, full-width
digits from Chinese and Japanese banking front ends (``４０００``), line
breaks where a bank format wraps at 35 or 65 characters, and Chinese words
glued to the numbers they introduce (``发票号40000123``).  The rules:

* Unicode NFKC first, so full-width and other compatibility forms become
  their plain equivalents (``４０``  -> ``40``, ``ＩＮＶ`` -> ``INV``);
* upper case (invoice numbers are compared case-insensitively);
* a CJK character ends a token, like a space does, so the number after
  ``发票号`` stands alone;
* runs of white space collapse to one space.

>>> normalize_text("  inv-2026-0042\\n paid ")
'INV-2026-0042 PAID'
>>> normalize_text("发票号４０００0123")
'发票号 40000123'
>>> reference_tokens("Invoice INV/2026/0042, order 77 of 14.10.2026")
['INVOICE', 'INV', '2026', '0042', 'ORDER', '77', 'OF', '14', '10', '2026']
"""

from __future__ import annotations

import re
import unicodedata

# CJK ideographs, kana, hangul and CJK punctuation: each one ends a token.
_CJK = r"\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3190-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uff0f"
_CJK_RUN = re.compile(f"([{_CJK}]+)")
_SPACES = re.compile(r"\s+")
# A reference token is a run of ASCII letters and digits: after NFKC every digit a
# payer could type is ASCII, and invoice numbers are ASCII in every ERP we load.
REFERENCE_TOKEN = re.compile(r"[A-Z0-9]+")
REFERENCE_TOKEN_PATTERN = REFERENCE_TOKEN.pattern


def normalize_text(text: str | None) -> str:
    """Remittance text in its comparable form: NFKC, upper case, CJK runs set apart, single spaces."""
    if not text:
        return ""
    out = unicodedata.normalize("NFKC", text).upper()
    out = _CJK_RUN.sub(r" \1 ", out)
    return _SPACES.sub(" ", out).strip()


def reference_tokens(text: str | None) -> list[str]:
    """The ASCII letter/digit runs of ``text`` in order: the pieces an invoice number is made of."""
    return REFERENCE_TOKEN.findall(normalize_text(text))
