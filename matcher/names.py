"""Payer names: the name a bank delivers, made comparable with the name in the customer master.

The same customer arrives as ``Müller Maschinenbau GmbH``, ``MUELLER
MASCHINENBAU G.M.B.H.``, ``Muller Maschinenbau Gesellschaft mbH`` or cut by the
bank format after 35 (MT940 ``?32``/``?33``, SWIFT name lines) or 32
characters: ``MUELLER MASCHINENBAU GESELLSCHAFT ``.  Two forms are made:

* ``full``: NFKC, case folded, accents removed, both umlaut transliterations
  brought together (``ü``, ``ue`` and ``u`` all become ``u``; ``ß`` becomes
  ``ss``), punctuation dropped inside abbreviations (``G.m.b.H.`` ->
  ``gmbh``) and turned into spaces elsewhere.  A truncated bank name is
  compared with the customer's ``full`` form as a prefix.
* ``core``: ``full`` without legal forms at either end (GmbH, Gesellschaft
  mbH, AG, KG, B.V., N.V., S.A., S.A.R.L., Ltd, Limited, Inc., LLC, PLC,
  有限公司, 股份有限公司, 株式会社 and more) and without ``and``/``und``/
  ``et``/``en``/``&``: the key for exact and fuzzy comparison.

>>> core_name("MUELLER MASCHINENBAU G.M.B.H.") == core_name("Müller Maschinenbau Gesellschaft mbH")
True
>>> core_name("Van der Berg B.V."), core_name("SARL Dupont & Fils")
('van der berg', 'dupont fils')
>>> core_name("深圳市华强电子有限公司"), core_name("Shenzhen Huaqiang Co., Ltd.")
('深圳市华强电子', 'shenzhen huaqiang')
>>> is_truncation("MUELLER MASCHINENBAU GESELLSCHAFT M", "Müller Maschinenbau Gesellschaft mit beschränkter Haftung")
True
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import polars as pl

# Legal forms as token sequences (after ``full`` normalisation), longest first.
_LEGAL_FORMS_TEXT = """
gesellschaft mit beschrankter haftung
aktiengesellschaft
kommanditgesellschaft
offene handelsgesellschaft
eingetragener kaufmann
eingetragener verein
societe anonyme
societe a responsabilite limitee
societe par actions simplifiee
besloten vennootschap met beperkte aansprakelijkheid
public limited company
limited liability company
gesellschaft mbh
gmbh co kgaa
gmbh co kg
gmbh co ohg
gmbh co
ag co kg
se co kg
gmbh
mbh
kgaa
ag
kg
ohg
ug haftungsbeschrankt
ug
ev
ek
eg
se
gbr
besloten vennootschap
naamloze vennootschap
bv
nv
vof
cv
bvba
sa
sas
sasu
sarl
eurl
snc
sca
sci
srl
spa
sl
sau
co ltd
company limited
limited
ltd
plc
llp
llc
lp
inc
incorporated
corporation
corp
company
co
pty ltd
pty
pte ltd
pte
ab
as
asa
oy
oyj
aps
sro
kft
spzoo
sp zoo
b v
n v
s a
s a s
s a r l
s l
s r l
a g
k g
e k
e v
"""
LEGAL_FORMS: tuple[tuple[str, ...], ...] = tuple(
    sorted((tuple(line.split()) for line in _LEGAL_FORMS_TEXT.strip().splitlines()), key=len, reverse=True)
)
# Chinese and Japanese legal forms are written without spaces: removed as substrings at the end.
CJK_LEGAL_FORMS = (
    "股份有限公司",
    "有限责任公司",
    "有限責任公司",
    "集团有限公司",
    "有限公司",
    "株式会社",
    "有限会社",
    "合同会社",
    "公司",
)
_FILLER = {"and", "und", "et", "en", "y", "the", "de", "der", "die", "la", "le"}
_FILLER_KEEP_INSIDE = {"de", "der", "die", "la", "le"}  # "van der berg": only dropped at the ends

_DOTS = re.compile("['’.]")
_PUNCT = re.compile(r"[^\w\s]|_")
CJK = _CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _strip_marks(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@lru_cache(maxsize=200_000)
def full_name(name: str | None) -> str:
    """The name in comparable form, legal forms kept (for prefix comparison of truncated names).

    The reference implementation of :func:`name_frame` (which does the same over a column).
    """
    if not name:
        return ""
    text = unicodedata.normalize("NFKC", name).lower().replace("ß", "ss")
    text = _DOTS.sub("", text)  # G.m.b.H. -> gmbh, O'Neill -> oneill
    if not text.isascii():
        text = _strip_marks(text)
    text = _PUNCT.sub(" ", text)
    # ä -> a (marks off above) and ae -> a alike: both umlaut spellings meet
    text = text.replace("ae", "a").replace("oe", "o").replace("ue", "u")
    return " ".join(text.split())


_LEGAL_BY_LAST: dict[str, list[tuple[str, ...]]] = {}
for _form in LEGAL_FORMS:  # longest first within each list, as LEGAL_FORMS is sorted
    _LEGAL_BY_LAST.setdefault(_form[-1], []).append(_form)
_LEADING_FORMS = {"sarl", "sa", "sas", "bv", "nv"}
# every start (two letters or more) of a legal-form word: a name ending otherwise was not cut in one
_LEGAL_PREFIXES = {tok[:i] for form in LEGAL_FORMS for tok in form for i in range(1, len(tok) + 1)}
_FORMS_BY_FIRST: dict[str, list[tuple[str, ...]]] = {}
_FORMS_BY_FIRST_PREFIX: dict[str, list[tuple[str, ...]]] = {}
for _form in LEGAL_FORMS:
    _FORMS_BY_FIRST.setdefault(_form[0], []).append(_form)
    for _i in range(2, len(_form[0]) + 1):
        _FORMS_BY_FIRST_PREFIX.setdefault(_form[0][:_i], []).append(_form)


def _strip_legal(tokens: list[str]) -> list[str]:
    changed = True
    while changed and len(tokens) > 1:
        changed = False
        for form in _LEGAL_BY_LAST.get(tokens[-1], ()):
            n = len(form)
            if len(tokens) > n and tuple(tokens[-n:]) == form:
                tokens = tokens[:-n]
                changed = True
                break
        if not changed and len(tokens) > 1 and tokens[0] in _LEADING_FORMS:
            tokens = tokens[1:]
            changed = True
        while len(tokens) > 1 and tokens[-1] in _FILLER:
            tokens = tokens[:-1]
            changed = True
        while len(tokens) > 1 and tokens[0] in _FILLER:
            tokens = tokens[1:]
            changed = True
    return tokens


@lru_cache(maxsize=200_000)
def core_name(name: str | None) -> str:
    """The name without legal forms and filler words: the key for exact and fuzzy comparison."""
    full = full_name(name)
    if not full:
        return ""
    for form in CJK_LEGAL_FORMS:
        if full.endswith(form) and len(full) > len(form):
            full = full[: -len(form)].strip()
            break
    tokens = _strip_legal(full.split())
    tokens = [t for t in tokens if t not in _FILLER or t in _FILLER_KEEP_INSIDE]
    return " ".join(tokens) or full


def strip_cut_legal_form(name: str | None) -> str:
    """The core of a name whose legal form the bank format cut off midway.

    ``MUELLER MASCHINENBAU GESELLSCHAFT M`` is ``Mueller Maschinenbau`` with
    the start of ``Gesellschaft mit beschränkter Haftung``: the trailing tokens
    that begin a legal form (the last one possibly cut inside a word) go.

    >>> strip_cut_legal_form("MUELLER MASCHINENBAU GESELLSCHAFT MIT BESCHR")
    'muller maschinenbau'
    >>> strip_cut_legal_form("Northwind Traders Lim")
    'northwind traders'
    >>> strip_cut_legal_form("LOESSER METALLBAU GESELLSCHAFT M")
    'losser metallbau'
    """
    tokens = full_name(name).split()
    if not tokens or tokens[-1] not in _LEGAL_PREFIXES:  # (one letter counts: "Gesellschaft m")
        return core_name(name)
    for k in range(min(4, len(tokens) - 1), 0, -1):
        tail = tokens[-k:]
        forms = _FORMS_BY_FIRST.get(tail[0], ()) if k > 1 else _FORMS_BY_FIRST_PREFIX.get(tail[0], ())
        for form in forms:
            if k == 1 and len(tail[-1]) < 2:
                continue  # a single letter alone is no evidence of a cut legal form
            if len(form) >= k and tuple(tail[:-1]) == form[: k - 1] and form[k - 1].startswith(tail[-1]):
                return core_name(" ".join(tokens[:-k]))
    return core_name(name)


def name_tokens(core: str) -> list[str]:
    """Blocking tokens of a core name: its words, and character pairs of CJK runs (no spaces there)."""
    out: list[str] = []
    for word in core.split():
        if _CJK.search(word):
            out.extend(word[i : i + 2] for i in range(max(1, len(word) - 1)))
        else:
            out.append(word)
    return out


def is_truncation(bank_name: str | None, customer_name: str | None, min_length: int = 12) -> bool:
    """True when ``bank_name`` is ``customer_name`` cut short by a bank format (compared as a prefix)."""
    bank = full_name(bank_name)
    customer = full_name(customer_name)
    if len(bank) < min_length or len(bank) >= len(customer):
        return False
    return customer.startswith(bank)


# --- the same over a column -----------------------------------------------------------------------

def _alternation(items: list[str]) -> str:
    return "|".join(re.escape(x) for x in sorted(items, key=len, reverse=True))


_TRAILING = r"(?:\s(?:" + _alternation([" ".join(f) for f in LEGAL_FORMS] + sorted(_FILLER)) + r"))+$"
_LEADING = r"^(?:(?:" + _alternation(sorted(_LEADING_FORMS | _FILLER)) + r")\s)+"
_INSIDE = r" (?:" + _alternation(sorted(_FILLER - _FILLER_KEEP_INSIDE)) + r") "
_CJK_FORMS = r"^(.+?)\s*(?:" + "|".join(CJK_LEGAL_FORMS) + r")$"


def name_frame(names: pl.Series) -> pl.DataFrame:
    """``raw``, ``full`` and ``core`` of every name, computed over the whole column with polars;
    the same forms as :func:`full_name` and :func:`core_name` (the tests compare them)."""
    raw = names.alias("raw")
    full = (
        raw.str.normalize("NFKC").str.to_lowercase().str.replace_all("ß", "ss", literal=True)
        .str.replace_all("['’.]", "")
        .str.normalize("NFKD").str.replace_all(r"\p{Mn}", "")
        .str.replace_all(r"[^\w\s]|_", " ")
        .str.replace_all("ae", "a", literal=True).str.replace_all("oe", "o", literal=True)
        .str.replace_all("ue", "u", literal=True)
        .str.replace_all(r"\s+", " ").str.strip_chars()
        .fill_null("")
        .alias("full")
    )
    df = pl.DataFrame([raw, full])
    core = (
        pl.col("full").str.replace(_CJK_FORMS, "${1}")
        .str.replace(_TRAILING, "").str.replace(_LEADING, "")
        .str.replace_all(_INSIDE, " ").str.replace_all(_INSIDE, " ")
    )
    return df.with_columns(
        pl.when(core.str.len_bytes() > 0).then(core).otherwise(pl.col("full")).alias("core")
    )
