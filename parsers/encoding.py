"""Settle the text encoding of a statement file before any parser reads it.

Banks send UTF-8, Latin-1 / cp1252 (German MT940, OFX 1.x) and GBK (Chinese
CSV exports), with or without a BOM, and file headers often lie about it (an
OFX ``ENCODING:USASCII`` over UTF-8 bytes).  The rule, in order:

1. a BOM decides (UTF-8, UTF-16);
2. an explicit encoding (a CSV profile's) is used when the bytes decode with it;
3. bytes that are valid UTF-8 are UTF-8 (pure ASCII is UTF-8 too);
4. ``hints`` (e.g. what an OFX header declares) are tried in order;
5. charset-normalizer's best guess, among the codecs banks really use;
6. cp1252, then latin-1, which decodes anything.

Shared by every text parser so that ``Müller`` never becomes ``MŘller``.
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence

from charset_normalizer import from_bytes

# What charset-normalizer may pick from: the codecs bank files really come in.
_PLAUSIBLE = ("utf_8", "cp1252", "latin_1", "iso8859_15", "gb18030", "gbk", "gb2312", "big5", "shift_jis", "cp850")


def _alias(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return name


def decode_bytes(data: bytes, declared: str | None = None, hints: Sequence[str] = ()) -> tuple[str, str]:
    """Decode ``data`` and return ``(text, encoding)``; a leading BOM is removed.

    >>> decode_bytes("Müller".encode("utf-8"))
    ('Müller', 'utf-8')
    >>> decode_bytes("Müller".encode("latin-1"))[0]
    'Müller'
    >>> decode_bytes("\\ufeff:20:X".encode("utf-8"))
    (':20:X', 'utf-8')
    """
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="replace"), "utf-8"
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        return data.decode("utf-16", errors="replace").lstrip("\ufeff"), "utf-16"
    if declared:
        try:
            return data.decode(declared), _alias(declared)
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    for hint in hints:
        enc = _alias(hint)
        if enc in ("ascii", "us-ascii", "utf-8"):
            continue
        try:
            return data.decode(enc), enc
        except (UnicodeDecodeError, LookupError):
            continue
    best = from_bytes(data[:200_000], cp_isolation=list(_PLAUSIBLE)).best()
    if best is not None and best.encoding:
        try:
            return data.decode(best.encoding), _alias(best.encoding)
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def looks_binary(head: bytes) -> bool:
    """True for content that no text statement format can be (NUL bytes, mostly control chars).

    XLSX files are binary too; the CSV/XLSX parser detects those by their zip
    signature before this check applies.
    """
    if not head:
        return False
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return False
    if b"\x00" in head[:4096]:
        return True
    sample = head[:4096]
    control = sum(1 for b in sample if b < 9 or (13 < b < 32 and b != 26))
    return control > len(sample) * 0.1
