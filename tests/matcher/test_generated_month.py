"""A small generated month through the real loaders, importer and ``recon match``: every line arrives,
nothing is allocated wrongly, no non-customer line is allocated, and the clear lines are posted."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine

from benchmarks.match_quality import evaluate
from fixtures.generator import generate, truth_rows, write_month


def test_generated_month_end_to_end(cli_run, engine: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world = generate(11, customers=80, lines=400)
    paths = write_month(world, tmp_path / "month")
    truth = list(truth_rows(world))
    assert {r["format"] for r in truth} == {"camt053", "mt940", "csv"}
    assert json.loads(paths["truth_json"].read_text(encoding="utf-8"))[0]["bank_reference"] == truth[0]["bank_reference"]

    cli_run("load", "customers", paths["customers"])
    cli_run("load", "invoices", paths["invoices"])
    imported = json.loads(cli_run("import", "--format", "json", tmp_path / "month" / "statements").output)
    assert [r["status"] for r in imported] == ["imported"] * 3
    assert sum(r["transactions"] for r in imported) == len(truth)

    summary = json.loads(cli_run("match", "--format", "json").output)
    assert summary["considered"] == len(truth)
    report = evaluate(engine, truth).as_dict()["total"]
    assert report["wrong_allocations"] == 0
    assert report["noncustomer_allocated"] == 0
    assert report["auto_post_rate_pct"] >= 90
    assert json.loads(cli_run("match", "--format", "json").output)["considered"] == 0


def test_generator_is_deterministic(tmp_path: Path) -> None:
    a = write_month(generate(5, customers=30, lines=60), tmp_path / "a")
    b = write_month(generate(5, customers=30, lines=60), tmp_path / "b")
    for key in ("customers", "invoices", "camt053", "mt940", "csv", "truth_csv"):
        assert a[key].read_bytes() == b[key].read_bytes(), key
