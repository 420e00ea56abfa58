"""The import job: skip what is known, never merge two lines, store a file whole or not at all."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sqlalchemy import func, select

from ledger.db import transaction
from ledger.models import BankTransaction, StatementFile
from ledger.models import Statement as StatementRow

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"
CAMT = DEMO / "inbox" / "2026-10-15_DE12500105170648489890_camt053.xml"
MT940 = DEMO / "inbox" / "2026-10-31_NL20INGB0001234567.sta"
CNY = DEMO / "inbox" / "2026-10-31_demo-bank-cny.csv"
PROFILE = DEMO / "profiles" / "demo-bank-cny.toml"


def _count(engine, model) -> int:  # type: ignore[no-untyped-def]
    with transaction(engine) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_demo_inbox_imports_then_skips(cli_run, engine) -> None:  # type: ignore[no-untyped-def]
    res = cli_run("import", "--profile", PROFILE, "--format", "json", DEMO / "inbox")
    out = {Path(r["file"]).name: r for r in json.loads(res.output)}
    assert out[CAMT.name]["status"] == "imported" and out[CAMT.name]["transactions"] == 9
    assert out[CAMT.name]["format"] == "camt" and out[CAMT.name]["warnings"] == []
    assert out[MT940.name]["transactions"] == 5 and out[MT940.name]["format"] == "mt940"
    assert out[CNY.name]["transactions"] == 2
    assert set(out[CAMT.name]) == {"file", "status", "format", "statements", "transactions", "duplicates", "warnings", "error"}
    assert _count(engine, BankTransaction) == 16
    again = json.loads(cli_run("import", "--profile", PROFILE, "--format", "json", DEMO / "inbox").output)
    assert [r["status"] for r in again] == ["skipped"] * 3
    assert _count(engine, BankTransaction) == 16


def test_overlapping_statement_counts_duplicates(cli_run, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli_run("import", CAMT)
    copy = tmp_path / "resent.xml"
    copy.write_text(CAMT.read_text(encoding="utf-8").replace("DEMO-20261015", "DEMO-20261015-RESENT"), encoding="utf-8")
    r = json.loads(cli_run("import", "--format", "json", copy).output)[0]
    assert (r["status"], r["transactions"], r["duplicates"]) == ("imported", 0, 9)
    assert _count(engine, BankTransaction) == 9


def test_identical_lines_in_one_file_are_never_merged(cli_run, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    text = MT940.read_text(encoding="latin-1")
    start = text.index(":61:2610221022")
    end = text.index(":61:2610261026")
    block = text[start:end]
    doubled = text[:end] + block + text[end:]
    doubled = doubled.replace(":62F:C261031EUR8349,00", ":62F:C261031EUR9348,00")
    f = tmp_path / "doubled.sta"
    f.write_text(doubled, encoding="latin-1")
    r = json.loads(cli_run("import", "--format", "json", f).output)[0]
    assert (r["status"], r["transactions"], r["duplicates"], r["warnings"]) == ("imported", 6, 0, [])


def test_bad_files_rejected_others_go_on(cli_run, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "inbox"
    folder.mkdir()
    shutil.copy(CAMT, folder / "a-good.xml")
    (folder / "b-empty.sta").write_bytes(b"")
    (folder / "c-binary.bin").write_bytes(bytes(range(256)) * 10)
    (folder / "d-unknown.txt").write_text("hello, this is not a statement\n", encoding="utf-8")
    broken = CAMT.read_text(encoding="utf-8").replace('<Amt Ccy="EUR">1.23</Amt>', '<Amt Ccy="EUR">1,23</Amt>')
    (folder / "e-broken.xml").write_text(broken, encoding="utf-8")
    res = cli_run("import", "--format", "json", folder, expect=1)
    out = {Path(r["file"]).name: r for r in json.loads(res.output)}
    assert out["a-good.xml"]["status"] == "imported"
    for name in ("b-empty.sta", "c-binary.bin", "d-unknown.txt", "e-broken.xml"):
        assert out[name]["status"] == "rejected", out[name]
        assert out[name]["error"].startswith(str(folder / name)), out[name]["error"]
        assert "\n" not in out[name]["error"]
    assert "empty" in out["b-empty.sta"]["error"]
    assert "e-broken.xml:" in out["e-broken.xml"]["error"]
    # the broken file stored nothing (its 8 good lines before the bad one included)
    assert _count(engine, BankTransaction) == 9
    assert _count(engine, StatementFile) == 1


def test_text_output_and_exit_status(cli_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "x.txt").write_text("nothing\n", encoding="utf-8")
    res = cli_run("import", CAMT, tmp_path / "x.txt", expect=1)
    assert "imported  2026-10-15_DE12500105170648489890_camt053.xml: camt, 1 statement(s), 9 transaction(s)" in res.output
    assert "rejected  " in res.output and "x.txt" in res.output
    assert "Traceback" not in res.output


def test_balance_mismatch_is_a_stored_warning(cli_run, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "off.sta"
    f.write_text(MT940.read_text(encoding="latin-1").replace(":62F:C261031EUR8349,00", ":62F:C261031EUR8340,00"),
                 encoding="latin-1")
    r = json.loads(cli_run("import", "--format", "json", f).output)[0]
    assert r["status"] == "imported" and r["transactions"] == 5
    assert any("balance does not add up" in w and "difference -9.00" in w for w in r["warnings"]), r["warnings"]
    with transaction(engine) as s:
        stmt = s.scalars(select(StatementRow)).one()
        assert stmt.warnings and "balance does not add up" in stmt.warnings[0]
