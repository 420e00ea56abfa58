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


# -- large files: parsed in a second process while this one writes ---------------


def _camt(path: Path, n: int, **kwargs) -> Path:  # type: ignore[no-untyped-def]
    from benchmarks.gen_camt import write_camt053

    write_camt053(path, n, **kwargs)
    return path


def _children() -> list:  # type: ignore[type-arg]
    import psutil

    return [p for p in psutil.Process().children() if p.status() != psutil.STATUS_ZOMBIE]


def test_a_file_parsed_in_a_worker_is_stored_as_in_process(engine, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from jobs.importer import import_file
    from parsers.camt import CamtParser

    path = _camt(tmp_path / "big.xml", 3_000, seed=11)
    monkeypatch.setenv("RECON_PARSE_WORKER", "1")
    r = import_file(engine, path)
    assert (r.status, r.format, r.transactions, r.duplicates, r.warnings) == ("imported", "camt", 3_000, 0, [])
    assert not _children()
    (statement,) = CamtParser().parse(path)
    expected = [(line.raw, line.amount, line.booking_date) for line in statement.lines]
    with transaction(engine) as s:
        stored = s.execute(select(BankTransaction.raw, BankTransaction.amount, BankTransaction.booking_date)
                           .order_by(BankTransaction.position)).all()
        (row,) = s.scalars(select(StatementRow)).all()
        assert row.closing_balance == statement.closing.amount and row.line_count == 3_000
    assert [tuple(t) for t in stored] == expected
    # The same lines read in this process give the same keys: all of them are duplicates.
    monkeypatch.setenv("RECON_PARSE_WORKER", "0")
    resent = tmp_path / "resent.xml"
    resent.write_text(path.read_text(encoding="utf-8").replace("<Id>BENCH-", "<Id>RESENT-"), encoding="utf-8")
    again = import_file(engine, resent)
    assert (again.status, again.transactions, again.duplicates) == ("imported", 0, 3_000)


def test_a_parse_error_at_the_end_of_a_worker_parse_stores_nothing(engine, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from jobs.importer import CHUNK, import_file

    path = _camt(tmp_path / "late.xml", CHUNK * 2 + 500, seed=12)
    text = path.read_text(encoding="utf-8")
    last = text.index('<Amt Ccy="EUR">', text.rindex("<Ntry>")) + len('<Amt Ccy="EUR">')  # the last entry's amount
    path.write_text(text[:last] + "7,25" + text[text.index("<", last):], encoding="utf-8")
    line = text[:last].count("\n") + 1
    good = _camt(tmp_path / "good.xml", 10, seed=13, account="NL91ABNA0417164300")
    monkeypatch.setenv("RECON_PARSE_WORKER", "1")
    bad = import_file(engine, path)
    assert bad.status == "rejected" and bad.format == "camt"
    assert bad.error and bad.error.startswith(f"{path}:{line}: ") and "'7,25' is not an amount" in bad.error
    assert _count(engine, BankTransaction) == 0 and _count(engine, StatementFile) == 0
    assert import_file(engine, good).transactions == 10
    assert not _children()


def test_a_known_file_is_skipped_and_its_worker_stopped(engine, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from jobs.importer import import_file

    path = _camt(tmp_path / "twice.xml", 2_500, seed=14)
    monkeypatch.setenv("RECON_PARSE_WORKER", "1")
    assert import_file(engine, path).transactions == 2_500
    again = import_file(engine, path)
    assert (again.status, again.warnings) == ("skipped", ["this file was imported before (same content)"])
    assert not _children()
    assert _count(engine, BankTransaction) == 2_500


def test_which_files_a_worker_parses(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import os

    from jobs.importer import WORKER_MIN_BYTES, use_worker
    from parsers.camt import CamtParser
    from parsers.csv_export import CSVParser

    camt, csv = CamtParser(), CSVParser(())
    monkeypatch.delenv("RECON_PARSE_WORKER", raising=False)
    assert not use_worker(camt, WORKER_MIN_BYTES - 1)
    assert use_worker(camt, WORKER_MIN_BYTES) == (len(os.sched_getaffinity(0)) >= 2)
    assert not use_worker(csv, WORKER_MIN_BYTES * 10)  # reads the whole file first: nothing to overlap
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0})
    assert not use_worker(camt, WORKER_MIN_BYTES * 10)  # one core: nothing to overlap
    monkeypatch.setenv("RECON_PARSE_WORKER", "0")
    assert not use_worker(camt, WORKER_MIN_BYTES * 10)
    monkeypatch.setenv("RECON_PARSE_WORKER", "1")
    assert use_worker(csv, 10)
