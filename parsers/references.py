"""ISO 11649 creditor references (``RF..``) found in free text.

An RF reference is ``RF``, two check digits and up to 21 letters or digits,
printed compact (``RF18539007547034``) or in groups of four
(``RF18 5390 0754 7034``); payers type it in lower case, with full-width
digits, or run it into the next word.  A candidate counts only when
python-stdnum validates its check digits; when the text runs on, the longest
valid prefix is taken.

Shared by the parsers (a statement line's structured creditor reference) and
the matcher (references named in remittance text), so both read the same
references the same way.

>>> find_rf_references("Invoice RF18 5390 0754 7034 thanks")
['RF18539007547034']
>>> find_rf_references("ref rf18539007547034/RF19 5390 0754 7034")  # the second has wrong check digits
['RF18539007547034']
>>> first_rf_reference("ＲＦ１８５３９００７５４７０３４")
'RF18539007547034'
>>> first_rf_reference("no reference") is None
True
"""

from __future__ import annotations

import re
import unicodedata

from stdnum import iso11649

# RF, two check digits, then up to 21 characters, each optionally after one space.
_RF = re.compile(r"(?<![0-9A-Z])RF[0-9]{2}(?: ?[0-9A-Z]){1,21}")


def find_rf_references(text: str | None) -> list[str]:
    """Every valid RF reference in ``text``, compact and upper case, in order of appearance, once each."""
    if not text:
        return []
    norm = unicodedata.normalize("NFKC", text).upper()
    if "RF" not in norm:
        return []
    found: list[str] = []
    for match in _RF.finditer(norm):
        candidate = match.group(0).replace(" ", "")
        for end in range(len(candidate), 4, -1):
            if iso11649.is_valid(candidate[:end]):
                if candidate[:end] not in found:
                    found.append(candidate[:end])
                break
    return found


def first_rf_reference(text: str | None) -> str | None:
    """The first valid RF reference in ``text``, or None."""
    refs = find_rf_references(text)
    return refs[0] if refs else None
