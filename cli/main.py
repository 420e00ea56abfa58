"""The ``recon`` command: a group of verbs that read as sentences.

Each command group lives in its own module and is registered here.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from cli.common import EXIT_INTERNAL, report_internal_error

# (module, attribute) of every top-level command, in the order --help lists them.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("cli.db", "db"),
    ("cli.load", "load"),
    ("cli.importing", "import_cmd"),
    ("cli.match", "match"),
    ("cli.queue", "queue"),
    ("cli.decisions", "unmatch"),
    ("cli.decisions", "audit"),
    ("cli.run", "run"),
    ("cli.export", "export"),
    ("cli.report", "report"),
    ("cli.status", "status"),
)

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
    """Lists commands in a fixed order (the order of a working day, not the alphabet)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


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


def _register() -> None:
    for module_name, attr in COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # not written yet
                continue
            raise
        cli.add_command(getattr(module, attr))


_register()


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
