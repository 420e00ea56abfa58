"""``recon match``: match every new transaction to open invoices; post, queue or set aside."""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import (
    EXIT_LOCKED,
    ReconError,
    current_user,
    db_option,
    echo_json,
    format_option,
    guarded,
    is_terminal,
    open_engine,
)
from jobs.lock import LockHeld, job_lock
from jobs.match import MatchSummary, run_match
from rules import RulesError, load_rules


def print_summary(summary: MatchSummary) -> None:
    """The run in a few lines for people."""
    click.echo(
        f"{summary.considered} transaction(s) considered: {summary.posted} posted "
        f"({summary.posted_amount}), {summary.queued} queued, {summary.ignored} set aside "
        f"in {summary.seconds:.1f}s"
    )
    if summary.queued_by_reason:
        click.echo("  queued:     " + ", ".join(f"{k} {v}" for k, v in summary.as_dict()["queued_by_reason"].items()))
    if summary.ignored_by_reason:
        click.echo("  set aside:  " + ", ".join(f"{k} {v}" for k, v in summary.as_dict()["ignored_by_reason"].items()))
    if summary.queued:
        click.echo("See the queue with: recon queue list")


def match_with_progress(engine, rules, actor: str) -> MatchSummary:  # type: ignore[no-untyped-def]
    """``run_match`` with a progress bar on a terminal (shared with the daily job)."""
    if not is_terminal():
        return run_match(engine, rules, actor=actor)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("matching"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task("", total=None)

        def tick(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return run_match(engine, rules, actor=actor, progress=tick)


@click.command("match")
@click.option("--rules", "rules_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A rules file overriding the defaults (rules/default.toml) key by key.")
@db_option
@format_option("table", "json")
@click.option("--user", default=None,
              help="Accepted like on other commands; automatic decisions are always recorded as 'recon'.")
@click.option("--wait", type=float, default=0, show_default=True, metavar="SECONDS",
              help="Wait this long for another recon job (import, match, daily) to finish.")
@click.pass_context
@guarded
def match(ctx: click.Context, rules_path: Path | None, db_url: str | None, fmt: str, user: str | None,
          wait: float) -> None:
    """Match every new transaction to the open invoices it pays.

    Transactions are settled in booking-date order. A payment is posted when the
    evidence agrees (reference and amount, or a known payer and an amount that
    fits one invoice) and nothing else is nearly as good; everything else is
    queued with a reason and ranked suggestions; debits, interest, card
    settlements, supplier refunds and bank fees are set aside by the [ignore]
    rules. Queued and posted transactions are left alone, so running it twice
    changes nothing the second time.

    \b
    Examples:
      recon match
      recon match --rules my-rules.toml --format json
    """
    try:
        rules = load_rules(rules_path)
        from matcher.ignore import check_rules
        from matcher.settings import MatchSettings

        check_rules(MatchSettings.from_rules(rules).ignore_rules)
    except RulesError as exc:
        raise ReconError(str(exc)) from None
    engine = open_engine(ctx, db_url)
    actor = "recon"
    current_user(user)  # validated for symmetry with other commands; automatic decisions are recon's
    try:
        with job_lock(engine, wait=wait):
            summary = match_with_progress(engine, rules, actor)
    except LockHeld as exc:
        raise ReconError(str(exc), EXIT_LOCKED) from None
    if fmt == "json":
        echo_json(summary.as_dict())
    else:
        print_summary(summary)
