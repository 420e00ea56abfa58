"""Generate a large OFX 1.x (SGML) bank statement for the import benchmarks.

The file looks like a US bank's Quicken download: a ``KEY:VALUE`` header
(``ENCODING:USASCII``, ``CHARSET:1252``), leaf elements without end tags,
one ``STMTRS`` with a ``BANKTRANLIST`` of ``STMTTRN`` blocks (10 lines each)
whose payee names carry cp1252 bytes (``Müller``), and a ``LEDGERBAL`` that
equals the opening balance plus every amount, dated on ``DTEND``.

    python benchmarks/gen_ofx.py out.ofx 100000 [--seed 7]
"""

from __future__ import annotations

import argparse
import random
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

_HEADER = """OFXHEADER:100
DATA:OFXSGML
VERSION:102
SECURITY:NONE
ENCODING:USASCII
CHARSET:1252
COMPRESSION:NONE
OLDFILEUID:NONE
NEWFILEUID:NONE

<OFX>
<SIGNONMSGSRSV1>
<SONRS>
<STATUS>
<CODE>0
<SEVERITY>INFO
</STATUS>
<DTSERVER>20260131120000[-5:EST]
<LANGUAGE>ENG
</SONRS>
</SIGNONMSGSRSV1>
<BANKMSGSRSV1>
<STMTTRNRS>
<TRNUID>1
<STATUS>
<CODE>0
<SEVERITY>INFO
</STATUS>
<STMTRS>
<CURDEF>USD
<BANKACCTFROM>
<BANKID>121000358
<ACCTID>4455667788
<ACCTTYPE>CHECKING
</BANKACCTFROM>
<BANKTRANLIST>
<DTSTART>{start:%Y%m%d}
<DTEND>{end:%Y%m%d}
"""
_FOOTER = """</BANKTRANLIST>
<LEDGERBAL>
<BALAMT>{closing}
<DTASOF>{end:%Y%m%d}
</LEDGERBAL>
</STMTRS>
</STMTTRNRS>
</BANKMSGSRSV1>
</OFX>
"""
_NAMES = ("Müller GmbH", "Acme Corp", "Café Zoë LLC", "Smith & Sons", "Øresund Trading", "Globex Inc")
LINES_PER_TRANSACTION = 10
OPENING = Decimal("10000.00")


def write_ofx(path: str | Path, n_lines: int, seed: int = 0) -> int:
    """Write an OFX 1.x file of about ``n_lines`` lines to ``path``; return the number of transactions."""
    rng = random.Random(seed)
    n_tx = max(1, (n_lines - 40) // LINES_PER_TRANSACTION)
    start = date(2026, 1, 1)
    end = start + timedelta(days=max(1, n_tx // 500))
    total = Decimal(0)
    chunks = [_HEADER.format(start=start, end=end)]
    for i in range(n_tx):
        day = start + timedelta(days=i * (end - start).days // n_tx)
        cents = rng.randint(-500_000, 900_000) or 1
        amount = Decimal(cents).scaleb(-2)
        total += amount
        name = rng.choice(_NAMES)
        chunks.append(
            "<STMTTRN>\n"
            f"<TRNTYPE>{'CREDIT' if cents > 0 else 'DEBIT'}\n"
            f"<DTPOSTED>{day:%Y%m%d}120000.000[-5:EST]\n"
            f"<DTUSER>{day:%Y%m%d}\n"
            f"<TRNAMT>{amount}\n"
            f"<FITID>{day:%Y%m%d}{i:09d}\n"
            f"<NAME>{name}\n"
            f"<MEMO>INVOICE INV-{rng.randint(10000, 99999)} REF {i}\n"
            f"<CHECKNUM>{i}\n"
            "</STMTTRN>\n"
        )
    chunks.append(_FOOTER.format(closing=OPENING + total, end=end))
    Path(path).write_bytes("".join(chunks).encode("cp1252"))
    return n_tx


def main() -> None:
    """Command line: ``gen_ofx.py PATH N_LINES [--seed S]``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path")
    ap.add_argument("n_lines", type=int)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    n = write_ofx(args.path, args.n_lines, seed=args.seed)
    print(f"wrote {args.path}: {n} transactions")


if __name__ == "__main__":
    main()
