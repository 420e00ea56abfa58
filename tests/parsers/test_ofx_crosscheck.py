"""A second reading of the OFX corpus with ofxparse, the library the client chose.

``parsers/ofx.py`` reads OFX with its own linear tokenizer because ofxparse 0.21 is
quadratic on large files and silently wrong on several real-world dialects (see
the module docstring).  Where ofxparse does read a corpus file, every transaction
it finds must agree with ours: same FITID, same amount; the posting date may
differ by one day because ofxparse shifts DTPOSTED to UTC.
"""

from __future__ import annotations

import os
import warnings
from datetime import timedelta
from pathlib import Path

import pytest

from parsers.base import ParseError
from parsers.ofx import OFXParser

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("RECON_CORPUS", ROOT.parent / "shared" / "corpus")) / "ofx"


@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus folder {CORPUS} is absent (only on the team's machines)")
def test_corpus_transactions_agree_with_ofxparse() -> None:
    ofxparse = pytest.importorskip("ofxparse")
    compared = 0
    for path in sorted(CORPUS.iterdir()):
        if path.suffix.lower() in {".yml", ".json", ".pydata", ".md", ".tsv"}:
            continue
        try:
            with warnings.catch_warnings(), open(path, "rb") as fh:
                warnings.simplefilter("ignore")
                library = ofxparse.OfxParser.parse(fh)
        except Exception:  # noqa: BLE001 - the library fails on several dialects; nothing to compare
            continue
        theirs = {}
        for account in library.accounts:
            statement = getattr(account, "statement", None)
            for t in getattr(statement, "transactions", None) or []:
                if not hasattr(t, "amount"):
                    continue  # investment transactions: recon reads bank and card statements only
                theirs[t.id] = (t.amount, t.date.date() if t.date else None)
        if not theirs:
            continue
        try:
            ours = {ln.bank_reference: (ln.amount, ln.booking_date) for s in OFXParser().parse(path) for ln in s.lines}
        except ParseError:
            continue  # refused files are checked by test_corpus.py
        for fitid, (amount, posted) in theirs.items():
            assert fitid in ours, f"{path.name}: FITID {fitid} read by ofxparse but not by us"
            my_amount, my_date = ours[fitid]
            assert my_amount == amount, f"{path.name} {fitid}: {my_amount} != ofxparse {amount}"
            if posted is not None:
                assert abs(my_date - posted) <= timedelta(days=1), f"{path.name} {fitid}: {my_date} vs {posted}"
        compared += 1
    assert compared >= 20, compared
