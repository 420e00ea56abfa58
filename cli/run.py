"""``recon run``: the jobs a scheduler runs (cron, a systemd timer, Airflow)."""

from __future__ import annotations

import json
import os
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

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
    open_engine,
    to_jsonable,
)
from cli.decisions import fmt_money
from cli.importing import profile_option, run_import
from jobs.daily import DailyError, DailySummary, run_daily
from jobs.lock import LockHeld, LockInfo
from rules import RulesError, load_rules


@click.group("run", short_help="Jobs for a scheduler: recon run daily.")
def run() -> None:
    """Jobs for a scheduler: `recon run daily` imports, matches and summarises."""


def _write_summary(path: Path, data: dict[str, Any]) -> None:
    """Write the JSON summary whole or not at all (a monitor never reads half a file)."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(to_jsonable(data), fh, ensure_ascii=False, indent=2)
            fh.write("\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise ReconError(f"{path}: cannot write the summary: {exc.strerror or exc}") from None


def print_daily(summary: DailySummary) -> None:
    """The run in a few lines for people (and for the mail cron sends)."""
    d = summary.as_dict()
    files, lines = d["files"], d["lines"]
    started = summary.started_at.strftime("%Y-%m-%d %H:%M:%S") if summary.started_at else "?"
    click.echo(f"recon daily run {summary.job_run_id}: inbox {summary.inbox}, started {started} UTC")
    click.echo(f"files      {files['total']}: {files['imported']} imported, {files['skipped']} skipped "
               f"(imported before), {files['rejected']} rejected")
    for f in summary.files:
        if f.status == "rejected":
            click.echo(f"  rejected  {f.error}")
        elif f.status == "imported":
            for w in f.warnings:
                click.echo(f"  warning   {Path(f.file).name}: {w}")
    click.echo(f"lines      {lines['new']} new, {lines['already_known']} already known")
    posted = d["posted_automatically"]
    click.echo(f"posted     {posted['transactions']} automatically "
               f"({posted['allocations']} allocation(s)), {_amounts(posted)}")

    def by(reasons: dict[str, int]) -> str:
        return (": " + ", ".join(f"{k} {v}" for k, v in reasons.items())) if reasons else ""

    click.echo(f"queued     {d['queued']['transactions']}{by(d['queued']['by_reason'])}")
    click.echo(f"set aside  {d['set_aside']['transactions']}{by(d['set_aside']['by_reason'])}")
    q = d["queue_after_run"]
    click.echo(f"queue      {q['open']} open, {_amounts(q)} in all"
               + (" (recon queue list)" if q["open"] else ""))
    if summary.rejected:
        click.echo(f"exit status 1: {len(summary.rejected)} file(s) rejected; fix or remove them and run again")


def _amounts(part: dict) -> str:  # type: ignore[type-arg]
    """'1,234.50' for one currency, 'EUR 1,234.50, CNY 29,985.00' for several (never summed across currencies)."""
    by_currency = part.get("amount_by_currency") or {}
    if len(by_currency) > 1 or part.get("amount") is None:
        return ", ".join(f"{c} {fmt_money(Decimal(a))}" for c, a in by_currency.items()) or "0.00"
    return fmt_money(Decimal(part["amount"]))


@run.command("daily", short_help="Import the inbox, match, print a summary.")
@click.option("--inbox", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              metavar="DIR", help="The folder the bank files arrive in (walked recursively; hidden files skipped).")
@profile_option
@click.option("--rules", "rules_path", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="A rules file overriding the defaults (rules/default.toml) key by key.")
@click.option("--summary", "summary_path", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Also write the summary as JSON to FILE (replaced whole each run).")
@click.option("--wait", type=click.FloatRange(min=0), default=0, show_default=True, metavar="SECONDS",
              help="If another recon job is running, wait this long for it (0: stop at once, exit status 3).")
@click.option("--user", default=None, metavar="NAME",
              help="Who runs the job (recorded on the job run; automatic decisions are recorded as `recon`).")
@db_option
@format_option("text", "json")
@click.pass_context
@guarded
def daily(ctx: click.Context, inbox: Path, profiles: tuple[str, ...], rules_path: Path | None,
          summary_path: Path | None, wait: float, user: str | None, db_url: str | None, fmt: str) -> None:
    """The daily job: import every new file in the inbox, match, print a summary.

    A file imported before (same content) is skipped, so the inbox may keep
    old files; a file being uploaded should be written under a hidden name
    (`.name.part`) and renamed when complete.  A file that cannot be read is
    rejected with one line and the others go on.  Then every new
    transaction is matched: posted, queued for a person, or set aside.

    Only one recon job works on a database at a time: a second one started
    meanwhile waits up to --wait seconds, else stops with exit status 3 and
    changes nothing.

    \b
    Exit status (for the scheduler):
      0  every file imported or skipped, matching done
      1  a file was rejected (the rest was imported and matched)
      3  another recon job holds the lock; nothing was done
      4  the database cannot be reached
    \b
    Examples:
      recon run daily --inbox /srv/recon/inbox
      recon run daily --inbox /srv/recon/inbox --profile my-bank.toml --summary /var/log/recon/last.json
      recon run daily --inbox inbox/ --wait 600 --format json
    See docs/daily-job.md for cron and systemd timer set-ups.
    """
    try:
        rules = load_rules(rules_path)
    except RulesError as exc:
        raise ReconError(str(exc)) from None
    engine = open_engine(ctx, db_url)
    actor = current_user(user) if user else "recon"

    def waiting(info: LockInfo) -> None:
        click.echo(f"recon: another recon job is running ({info.describe()}); waiting up to {wait:.0f}s", err=True)

    from cli.match import match_with_progress

    try:
        summary = run_daily(engine, inbox, rules, profiles=profiles, actor=actor, wait=wait, on_wait=waiting,
                            import_files=lambda e, paths, prof, who: run_import(e, paths, tuple(prof), who),
                            match=match_with_progress)
    except LockHeld as exc:
        if summary_path:
            _write_summary(summary_path, {"job": "daily", "status": "locked", "inbox": str(inbox), "error": str(exc)})
        raise ReconError(f"{exc}; nothing was done (use --wait SECONDS to wait for it)", EXIT_LOCKED) from None
    except DailyError as exc:
        raise ReconError(str(exc)) from None
    except Exception as exc:
        if summary_path:
            _write_summary(summary_path, {"job": "daily", "status": "failed", "inbox": str(inbox),
                                          "error": f"{type(exc).__name__}: {exc}"[:500]})
        raise
    data = summary.as_dict()
    if summary_path:
        _write_summary(summary_path, data)
    if fmt == "json":
        echo_json(data)
    else:
        print_daily(summary)
    ctx.exit(EXIT_REJECTED if summary.rejected else EXIT_OK)
