"""``recon import``: bank statement files into the database."""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import (
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_REJECTED,
    ReconError,
    current_user,
    db_option,
    echo_json,
    format_option,
    guarded,
    is_terminal,
    open_engine,
)
from jobs.importer import FileResult, collect_files, import_paths
from jobs.lock import BATCH_LOCK, LockHeld, job_lock
from parsers.profiles import ProfileError, resolve_profiles


def profile_option(func):  # type: ignore[no-untyped-def]
    """``--profile NAME|FILE`` (repeatable): CSV profiles tried before the built-in ones."""
    return click.option(
        "--profile", "profiles", multiple=True, metavar="NAME|FILE",
        help="CSV profile: a built-in name or a TOML file (repeatable; tried before the built-in profiles).",
    )(func)


def print_results(results: list[FileResult]) -> None:
    """One line per file for people, then the totals."""
    for r in results:
        name = Path(r.file).name
        if r.status == "rejected":
            click.echo(f"rejected  {r.error}", err=False)
            continue
        if r.status == "skipped":
            click.echo(f"skipped   {name}: already imported")
            continue
        dup = f", {r.duplicates} already known" if r.duplicates else ""
        click.echo(f"imported  {name}: {r.format}, {r.statements} statement(s), {r.transactions} transaction(s){dup}")
        for w in r.warnings:
            click.echo(f"  warning: {w}")
    n = len(results)
    imported = sum(r.status == "imported" for r in results)
    skipped = sum(r.status == "skipped" for r in results)
    rejected = sum(r.status == "rejected" for r in results)
    lines = sum(r.transactions for r in results)
    click.echo(f"{n} file(s): {imported} imported, {skipped} skipped, {rejected} rejected; {lines} new transaction(s)")


def run_import(engine, paths: list[Path], profiles: tuple[str, ...], actor: str) -> list[FileResult]:  # type: ignore[no-untyped-def]
    """Import with a progress bar on a terminal (shared by ``recon import`` and the daily job)."""
    try:
        resolve_profiles(profiles)
    except ProfileError as exc:
        raise ReconError(f"--profile: {exc}") from None
    files = collect_files(paths)
    if not is_terminal() or len(files) < 2:
        return import_paths(engine, files, profiles, actor=actor)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                  TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task("", total=len(files))
        return import_paths(engine, files, profiles, actor=actor,
                            progress=lambda p, _r: bar.update(task, advance=1, description=p.name[:40]))


@click.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@profile_option
@db_option
@format_option("text", "json")
@click.option("--user", default=None, help="Who imports (recorded on the job run).")
@click.option("--wait", type=float, default=0, show_default=True, metavar="SECONDS",
              help="When another batch job (import, match, daily) holds the lock, wait this long before giving up.")
@click.pass_context
@guarded
def import_cmd(ctx: click.Context, paths: tuple[Path, ...], profiles: tuple[str, ...], db_url: str | None,
               fmt: str, user: str | None, wait: float) -> None:
    """Import bank statement files, or folders of them.

    The format (MT940/MT942, camt.052/053/054, OFX/QFX, BAI2, or a CSV/XLSX export a
    profile recognises) is read from the content. A file already imported is skipped;
    lines already known from an overlapping statement are counted as duplicates; a
    file that cannot be read is rejected with one line and nothing of it is stored.

    \b
    Examples:
      recon import inbox/2026-11-02/
      recon import --profile my-bank.toml export.csv
      recon import --format json *.sta | jq '.[] | select(.status=="rejected")'

    Exit status: 0 when every file was imported or skipped, 1 when any was rejected,
    3 when another batch job holds the lock.
    """
    engine = open_engine(ctx, db_url)
    try:
        # Imports, matching and the daily job take turns: one batch job at a time per database.
        with job_lock(engine, BATCH_LOCK, wait=wait):
            results = run_import(engine, list(paths), profiles, current_user(user))
    except LockHeld as exc:
        raise ReconError(str(exc), EXIT_LOCKED) from None
    if fmt == "json":
        echo_json([r.as_dict() for r in results])
    else:
        print_results(results)
    ctx.exit(EXIT_REJECTED if any(r.status == "rejected" for r in results) else EXIT_OK)
