"""Generate a large bank CSV export for the import benchmarks.

The file is a Knab (NL) "KNAB EXPORT" transaction overview, read by the
built-in ``knab`` profile: a preamble line, a header, then one row per
transaction (semicolon separated, quoted, decimal comma, ``C``/``D`` in a
column of its own, a unique ``Referentie`` per row), newest first as Knab
writes it.

    python benchmarks/gen_csv.py out.csv 100000 [--seed 7]
"""

from __future__ import annotations

import argparse
import random
from datetime import date, timedelta
from pathlib import Path

_HEADER = (
    "KNAB EXPORT;;;;;;;;;;;;;;;;\n"
    "Rekeningnummer;Transactiedatum;Valutacode;CreditDebet;Bedrag;Tegenrekeningnummer;Tegenrekeninghouder;"
    "Valutadatum;Betaalwijze;Omschrijving;Type betaling;Machtigingsnummer;Incassant ID;Adres;Referentie;Boekdatum;\n"
)
_NAMES = (
    "Jansen Installatietechniek B.V.",
    "Bakkerij De Vries",
    "Müller & Zöhne GmbH",
    "Acme Trading",
    "Van Dijk",
)
_ACCOUNT = "NL42KNAB0123456789"


def write_csv(path: str | Path, n_lines: int, seed: int = 0) -> int:
    """Write a Knab export with ``n_lines`` transaction rows to ``path``; return the row count."""
    rng = random.Random(seed)
    start = date(2026, 1, 1)
    rows = [_HEADER]
    for i in range(n_lines):
        day = start + timedelta(days=(n_lines - i) * 365 // max(n_lines, 1))
        d = day.strftime("%d-%m-%Y")
        cents = rng.randint(1, 2_500_000)
        amount = f"{cents // 100},{cents % 100:02d}"
        credit = rng.random() < 0.6
        iban = f"NL{rng.randint(10, 99)}RABO{rng.randint(0, 9_999_999_999):010d}"
        name = rng.choice(_NAMES)
        remittance = f"Factuur INV-{rng.randint(10000, 99999)}" if credit else "Betaling leverancier"
        rows.append(
            f'"{_ACCOUNT}";"{d}";"EUR";"{"C" if credit else "D"}";"{amount}";"{iban}";"{name}";"{d}";'
            f'"{"Ontvangen betaling" if credit else "Overboeking"}";"{remittance}";"";"";"";"";"K{seed:02d}{i:012d}";"{d}";\n'
        )
    Path(path).write_text("".join(rows), encoding="utf-8")
    return n_lines


def main() -> None:
    """Command line: ``gen_csv.py PATH N_LINES [--seed S]``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path")
    ap.add_argument("n_lines", type=int)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    n = write_csv(args.path, args.n_lines, seed=args.seed)
    print(f"wrote {args.path}: {n} rows (profile knab)")


if __name__ == "__main__":
    main()
