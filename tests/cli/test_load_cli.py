"""``recon load`` from the command line: counts, one-line errors, exit codes, --help."""

from __future__ import annotations

from pathlib import Path

from tests.ledger.test_masterdata import CUSTOMERS


def test_help_lists_groups(cli_run) -> None:  # type: ignore[no-untyped-def]
    out = cli_run("--help").output
    for group in ("db", "load", "import", "status"):
        assert f"  {group} " in out


def test_load_3000_invoices_and_reject_a_bad_file(cli_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "c.csv").write_text(CUSTOMERS, encoding="utf-8")
    rows = ["invoice_id,customer_id,issue_date,due_date,currency,amount"]
    rows += [f"INV-{i:05d},C{1 + i % 2},2026-10-01,2026-10-31,EUR,{i + 1}.50" for i in range(3000)]
    (tmp_path / "i.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert "2 customers loaded (2 new, 0 updated)" in cli_run("load", "customers", tmp_path / "c.csv").output
    assert "3000 invoices loaded (3000 new, 0 updated)" in cli_run("load", "invoices", tmp_path / "i.csv").output
    (tmp_path / "bad.csv").write_text(
        "invoice_id,customer_id,issue_date,due_date,currency,amount\nX-1,C1,2026-10-01,2026-10-31,EUR,1.00\n"
        "X-2,C1,2026-10-01,31.10.2026,EUR,1.00\n", encoding="utf-8")
    res = cli_run("load", "invoices", tmp_path / "bad.csv", expect=1)
    assert res.output.strip() == "recon: error: bad.csv:3: due_date: expected an ISO date YYYY-MM-DD, got '31.10.2026'"
    assert '"open": {"count": 3000' in cli_run("status", "--format", "json").output.replace("\n", "").replace("  ", "")


def test_every_listed_command_loads_and_its_listed_help_is_its_own() -> None:
    """The root's static one-line help (kept for lazy loading) must say what each command's docstring says."""
    import importlib

    from cli.main import COMMANDS

    for name, (module, attr, listed) in COMMANDS.items():
        command = getattr(importlib.import_module(module), attr)
        assert command.name == name
        own = (command.help or "").strip().splitlines()[0].rstrip(".").lower()
        words = set(own.replace(",", " ").replace(":", " ").split())
        listed_words = set(listed.rstrip(".").lower().replace(",", " ").replace(":", " ").split())
        assert len(words & listed_words) >= len(listed_words) // 2, (name, own, listed)
