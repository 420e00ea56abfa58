"""The ``recon`` command: a group of verbs that read as sentences.

Each command group lives in its own module and is registered here.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from cli.common import EXIT_INTERNAL, report_internal_error

# name: (module, attribute, one-line help) of every top-level command, in the order --help lists
# them (the order of a working day).  Modules are imported only when their command runs, so a
# scheduled `recon match` does not pay for the report renderers; the one-line help is kept here
# for the same reason and checked against each command's own docstring by the tests.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "db": ("cli.db", "db", "Create or migrate the database schema."),
    "load": ("cli.load", "load", "Load or update master data: customers and open invoices."),
    "import": ("cli.importing", "import_cmd", "Import bank statement files, or folders of them."),
    "match": ("cli.match", "match", "Match every new transaction to the open invoices it pays."),
    "queue": ("cli.queue", "queue", "The exception queue: list, show and decide by hand."),
    "unmatch": ("cli.decisions", "unmatch", "Undo a posting; the payment goes back to the queue."),
    "audit": ("cli.decisions", "audit", "The audit trail: who decided what, when, what changed."),
    "run": ("cli.run", "run", "Jobs for a scheduler: recon run daily."),
    "export": ("cli.export", "export", "Export recon's results (allocations) as CSV, JSON or XLSX."),
    "report": ("cli.report", "report", "Reports: month-end, aging, statements of account, reminders, behaviour."),
    "status": ("cli.status", "status", "Show what recon holds: invoices, transactions by status, the queue."),
}

EPILOG = """\b
Examples:
  recon load customers customers.csv
  recon load invoices invoices.csv
  recon import statements/               # every file in the folder
  recon match
  recon queue list
  recon report month-end --period 2026-10 --format html --output oct.html

\b
Database: --db URL, else $RECON_DATABASE_URL, else sqlite:///recon.db here.
Exit codes: 0 ok, 1 input rejected, 2 usage, 3 another job holds the lock,
4 database unreachable, 70 internal error (details in ~/.cache/recon/recon.log).
"""


class ReconGroup(click.Group):
    """Loads each command's module on first use and lists commands in a fixed order."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, attr, _ = COMMANDS[cmd_name]
        return getattr(importlib.import_module(module_name), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_) for name, (_, _, help_) in COMMANDS.items()])


@click.group(cls=ReconGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--db", "db_url", envvar="RECON_DATABASE_URL", default=None, metavar="URL",
              help="Database URL for every command (default: $RECON_DATABASE_URL, else sqlite:///recon.db).")
@click.option("-v", "--verbose", is_flag=True, help="Log what recon does to stderr.")
@click.version_option(package_name="recon")
@click.pass_context
def cli(ctx: click.Context, db_url: str | None, verbose: bool) -> None:
    """recon: bank statements in, customer payments matched to open invoices, exceptions queued."""
    ctx.ensure_object(dict)
    ctx.obj["db_url"] = db_url
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def main() -> None:
    """Console entry point: never a traceback on screen."""
    try:
        cli.main(prog_name="recon", standalone_mode=True)
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001
        sys.exit(report_internal_error(exc) or EXIT_INTERNAL)


if __name__ == "__main__":
    main()
