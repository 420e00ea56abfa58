"""Generate large, realistic camt.053 statements for the import benchmarks.

``write_camt053(path, n_lines)`` writes one ``Stmt`` with ``n_lines`` booked
entries (one ``TxDtls`` each) in the shape German and Dutch banks send: about
70 % incoming customer payments (a debtor name, IBAN and BIC, an invoice number
in ``Ustrd`` or an ISO 11649 ``RF`` creditor reference in ``Strd``) and 30 %
outgoing payments, with opening and closing balances that add up.  The file is
written as it goes, so a 1,000,000-entry file (about 1.3 GB) needs no memory.

    .venv/bin/python benchmarks/gen_camt.py /tmp/camt-100k.xml 100000
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

from stdnum import iban as _iban
from stdnum.iso7064 import mod_97_10

_NAMESPACES = {
    "08": "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08",
    "02": "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02",
}
_FIRST = ("Muster", "Schmidt", "Jansen", "de Vries", "Weber", "Bakker", "Fischer", "Visser", "Meyer", "Smit")
_LAST = ("GmbH", "B.V.", "AG", "KG", "Handel", "Bouw", "Logistik", "Software", "Maschinenbau", "& Zonen")
_BICS = ("COBADEFFXXX", "INGBNL2AXXX", "DEUTDEFFXXX", "RABONL2UXXX", "ABNANL2AXXX", "BYLADEM1001")


@dataclass(frozen=True)
class Camt053Summary:
    """What a generated file holds, so a benchmark can check the import against it."""

    n_lines: int
    opening: Decimal
    closing: Decimal
    credits: int
    debits: int


def _iban_for(country: str, bban: str) -> str:
    check = _iban.calc_check_digits(f"{country}00{bban}")
    return f"{country}{check}{bban}"


def _rf(reference: str) -> str:
    return f"RF{mod_97_10.calc_check_digits(reference + 'RF')}{reference}"


def _party(tag: str, name: str, version: str) -> str:
    if version == "02":
        return f"<{tag}>\n<Nm>{name}</Nm>\n</{tag}>"
    return f"<{tag}>\n<Pty>\n<Nm>{name}</Nm>\n</Pty>\n</{tag}>"


def write_camt053(
    path: str | Path,
    n_lines: int,
    account: str = "DE89370400440532013000",
    seed: int = 0,
    *,
    currency: str = "EUR",
    version: str = "08",
    start: date = date(2026, 1, 2),
    opening: Decimal = Decimal("100000.00"),
    customers: int = 500,
) -> Camt053Summary:
    """Write a camt.053 file with one statement of ``n_lines`` booked entries to ``path``.

    ``version`` is ``"08"`` (party names as ``Dbtr/Pty/Nm``) or ``"02"``
    (``Dbtr/Nm``).  The same ``seed`` gives the same file byte for byte.
    Returns the counts and balances the file states.
    """
    if version not in _NAMESPACES:
        raise ValueError(f"version must be one of {sorted(_NAMESPACES)}")
    rng = random.Random(seed)
    payers = [
        (
            escape(f"{rng.choice(_FIRST)} {rng.choice(_LAST)} {i}"),
            _iban_for("DE", f"{rng.randrange(10**17, 10**18)}"),
            rng.choice(_BICS),
        )
        for i in range(max(1, customers))
    ]
    booking_dates = [(start + timedelta(days=d)).isoformat() for d in range(28)]
    per_day = max(1, n_lines // len(booking_dates) + 1)
    balance = opening
    credits = debits = 0
    ns = _NAMESPACES[version]
    with open(path, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as out:
        out.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<Document xmlns="{ns}">\n<BkToCstmrStmt>\n<GrpHdr>\n<MsgId>BENCH-{seed}-{n_lines}</MsgId>\n'
            f"<CreDtTm>{booking_dates[-1]}T18:00:00+01:00</CreDtTm>\n</GrpHdr>\n<Stmt>\n"
            f"<Id>BENCH-{seed}-{n_lines}</Id>\n<ElctrncSeqNb>1</ElctrncSeqNb>\n<LglSeqNb>1</LglSeqNb>\n"
            f"<CreDtTm>{booking_dates[-1]}T18:00:00+01:00</CreDtTm>\n"
            f"<Acct>\n<Id>\n<IBAN>{account}</IBAN>\n</Id>\n<Ccy>{currency}</Ccy>\n</Acct>\n"
            f"<Bal>\n<Tp>\n<CdOrPrtry>\n<Cd>OPBD</Cd>\n</CdOrPrtry>\n</Tp>\n"
            f'<Amt Ccy="{currency}">{abs(opening):.2f}</Amt>\n'
            f"<CdtDbtInd>{'CRDT' if opening >= 0 else 'DBIT'}</CdtDbtInd>\n"
            f"<Dt>\n<Dt>{booking_dates[0]}</Dt>\n</Dt>\n</Bal>\n"
        )
        closing_pos = out.tell()
        # The closing balance is only known at the end; reserve room for it here so the
        # Bal elements keep the schema's order (before the entries) in a single pass.
        out.write(" " * 400 + "\n")
        for i in range(n_lines):
            day = booking_dates[min(i // per_day, len(booking_dates) - 1)]
            cents = rng.randrange(100, 2_500_000)
            amount = Decimal(cents).scaleb(-2)
            name, payer_iban, bic = payers[rng.randrange(len(payers))]
            if rng.random() < 0.7:
                credits += 1
                balance += amount
                indicator, family = "CRDT", "RCDT"
                invoice = f"INV{start.year}{rng.randrange(1, 999_999):06d}"
                if rng.random() < 0.5:
                    remittance = f"<Ustrd>Rechnung {invoice} Kundennr {rng.randrange(10_000, 99_999)}</Ustrd>"
                else:
                    remittance = (
                        "<Strd>\n<CdtrRefInf>\n<Tp>\n<CdOrPrtry>\n<Cd>SCOR</Cd>\n</CdOrPrtry>\n</Tp>\n"
                        f"<Ref>{_rf(invoice)}</Ref>\n</CdtrRefInf>\n</Strd>"
                    )
                parties = (
                    f"{_party('Dbtr', name, version)}\n<DbtrAcct>\n<Id>\n<IBAN>{payer_iban}</IBAN>\n</Id>\n</DbtrAcct>\n"
                    f"{_party('Cdtr', 'Recon Demo GmbH', version)}\n"
                    f"<CdtrAcct>\n<Id>\n<IBAN>{account}</IBAN>\n</Id>\n</CdtrAcct>"
                )
                bic_tag = "BICFI" if version != "02" else "BIC"
                agents = f"<DbtrAgt>\n<FinInstnId>\n<{bic_tag}>{bic}</{bic_tag}>\n</FinInstnId>\n</DbtrAgt>"
            else:
                debits += 1
                balance -= amount
                indicator, family = "DBIT", "ICDT"
                remittance = f"<Ustrd>Lieferantenrechnung LF-{rng.randrange(1, 99_999):05d}</Ustrd>"
                parties = (
                    f"{_party('Dbtr', 'Recon Demo GmbH', version)}\n"
                    f"<DbtrAcct>\n<Id>\n<IBAN>{account}</IBAN>\n</Id>\n</DbtrAcct>\n"
                    f"{_party('Cdtr', name, version)}\n<CdtrAcct>\n<Id>\n<IBAN>{payer_iban}</IBAN>\n</Id>\n</CdtrAcct>"
                )
                bic_tag = "BICFI" if version != "02" else "BIC"
                agents = f"<CdtrAgt>\n<FinInstnId>\n<{bic_tag}>{bic}</{bic_tag}>\n</FinInstnId>\n</CdtrAgt>"
            status = "<Sts>\n<Cd>BOOK</Cd>\n</Sts>" if version != "02" else "<Sts>BOOK</Sts>"
            out.write(
                f"<Ntry>\n<NtryRef>{i + 1}</NtryRef>\n"
                f'<Amt Ccy="{currency}">{amount}</Amt>\n<CdtDbtInd>{indicator}</CdtDbtInd>\n{status}\n'
                f"<BookgDt>\n<Dt>{day}</Dt>\n</BookgDt>\n<ValDt>\n<Dt>{day}</Dt>\n</ValDt>\n"
                f"<AcctSvcrRef>BANKREF{seed:04d}{i:09d}</AcctSvcrRef>\n"
                f"<BkTxCd>\n<Domn>\n<Cd>PMNT</Cd>\n<Fmly>\n<Cd>{family}</Cd>\n<SubFmlyCd>ESCT</SubFmlyCd>\n"
                f"</Fmly>\n</Domn>\n</BkTxCd>\n"
                f"<NtryDtls>\n<TxDtls>\n<Refs>\n<EndToEndId>E2E-{seed}-{i}</EndToEndId>\n</Refs>\n"
                f'<AmtDtls>\n<TxAmt>\n<Amt Ccy="{currency}">{amount}</Amt>\n</TxAmt>\n</AmtDtls>\n'
                f"<RltdPties>\n{parties}\n</RltdPties>\n<RltdAgts>\n{agents}\n</RltdAgts>\n"
                f"<RmtInf>\n{remittance}\n</RmtInf>\n</TxDtls>\n</NtryDtls>\n</Ntry>\n"
            )
        out.write("</Stmt>\n</BkToCstmrStmt>\n</Document>\n")
    closing_xml = (
        "<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp>"
        f'<Amt Ccy="{currency}">{abs(balance):.2f}</Amt><CdtDbtInd>{"CRDT" if balance >= 0 else "DBIT"}</CdtDbtInd>'
        f"<Dt><Dt>{booking_dates[-1]}</Dt></Dt></Bal>"
    )
    with open(path, "r+b") as patch:
        patch.seek(closing_pos)
        patch.write(closing_xml.encode("ascii"))
    return Camt053Summary(n_lines=n_lines, opening=opening, closing=balance, credits=credits, debits=debits)


def main() -> None:
    """Command line: write a file and print what it holds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("n_lines", type=int)
    parser.add_argument("--account", default="DE89370400440532013000")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--version", choices=sorted(_NAMESPACES), default="08")
    args = parser.parse_args()
    summary = write_camt053(args.path, args.n_lines, account=args.account, seed=args.seed, version=args.version)
    size = args.path.stat().st_size
    print(f"{args.path}: {summary.n_lines} entries ({summary.credits} credits, {summary.debits} debits), "
          f"opening {summary.opening}, closing {summary.closing}, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
