"""What copy_orders and retry_order_copies share: following copies with a progress bar, and
reporting how they ended (text, JSON, exit status)."""

import json
import logging
import sys
import textwrap
import time
from argparse import ArgumentParser, RawDescriptionHelpFormatter
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, TextIO, cast

from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    DjangoHelpFormatter,
    OutputWrapper,
)
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from core.actors import Actor
from ordercopies import selectors, services
from ordercopies.models import OrderCopy

ENDED = (OrderCopy.Status.COMPLETED, OrderCopy.Status.FAILED, OrderCopy.Status.ABORTED)
UNSUCCESSFUL = (OrderCopy.Status.FAILED, OrderCopy.Status.ABORTED)


class ExitStatus(IntEnum):
    """What copy_orders and retry_order_copies exit with (exit_statuses_help tells users)."""

    OK = 0
    BAD_INPUT = 1
    COPY_FAILED = 2
    TIMED_OUT = 3
    REFUSED = 4


def exit_statuses_help(*, refusals: bool = False) -> str:
    """The --help epilog of the commands: what each exit status means."""
    refused = (
        "  4  at least one chosen copy was refused: it is not failed or aborted now\n"
        if refusals
        else ""
    )
    return (
        "exit status (the first that applies):\n"
        "  1  bad input (the message says what to change); nothing was changed\n"
        "  2  at least one copy ended failed or aborted (the summary lists them, with errors)\n"
        "  3  --timeout passed: some copies are still pending or in progress (db_worker goes on)\n"
        f"{refused}"
        "  0  otherwise: every copy ended completed (--wait, --sync) or was queued (default);\n"
        "     a dry run\n"
        "\n"
        "--json prints one JSON document on stdout and nothing else there; the progress bar\n"
        "(only on a terminal) and error messages go to stderr."
    )


def counted(number: int, singular: str, plural: str) -> str:
    """ "1 order copy", "2 order copies"."""
    return f"{number} {singular if number == 1 else plural}"


def copies_counted(number: int) -> str:
    return counted(number, "order copy", "order copies")


def terminal_stream(stream: object) -> TextIO | None:
    """The stream under a command's OutputWrapper: Django styles everything written to
    `self.stderr` as an error and ends each write with a newline, which breaks a bar that
    redraws one line with '\\r'."""
    if isinstance(stream, OutputWrapper):
        stream = stream._out  # Django has no public way to the wrapped stream
    return cast(TextIO | None, stream)


@contextmanager
def _progress_bar(*, total: int, stream: object) -> Iterator[tqdm]:
    """A one-line bar on a terminal (nothing when `stream` is not one); log lines printed
    meanwhile go above it instead of breaking it."""
    out = terminal_stream(stream)
    with tqdm(total=total, unit="copy", desc="Copies", file=out, disable=None) as bar:
        if bar.disable:
            yield bar
            return
        with logging_redirect_tqdm(loggers=_console_loggers()):
            yield bar


def _console_loggers() -> list[logging.Logger]:
    """The loggers that print on the terminal themselves (the settings give the root logger
    and "django" a console handler each)."""
    loggers = [logging.root, logging.getLogger("django")]
    return [
        logger
        for logger in loggers
        if any(
            isinstance(handler, logging.StreamHandler)
            and handler.stream in (sys.stdout, sys.stderr)
            for handler in logger.handlers
        )
    ]


def _show(bar: tqdm, counts: dict[str, int]) -> int:
    """Shows the counts; returns how many copies ended (from the counts: a disabled bar, off a
    terminal, counts nothing)."""
    # The counts first and without a redraw, then the update redraws: a redraw never shows
    # the counts of the previous update.
    shown = {status: counts.get(status, 0) for status in ENDED}
    if not shown[OrderCopy.Status.ABORTED]:
        del shown[OrderCopy.Status.ABORTED]
    ended = sum(shown.values())
    bar.set_postfix(shown, refresh=False)
    bar.update(ended - bar.n)
    return ended


def _poll(*, bar: tqdm, ids: Sequence[str], deadline: float, poll: float) -> bool:
    while True:
        if _show(bar, selectors.order_copy_status_counts(ids=ids)) >= len(ids):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)


def copies_wait(
    *, ids: Sequence[str], timeout: float, poll: float = 0.5, stream: object = None
) -> bool:
    """Poll until every copy has ended or `timeout` seconds pass; True when all ended."""
    deadline = time.monotonic() + timeout
    with _progress_bar(total=len(ids), stream=stream) as bar:
        return _poll(bar=bar, ids=ids, deadline=deadline, poll=poll)


def copies_run_here(
    *,
    ids: Sequence[str],
    execute: Callable[[str], OrderCopy | None],
    stream: object = None,
    timeout: float = 3600,
    poll: float = 0.5,
) -> bool:
    """Run the copies in this process, one after the other, with a progress bar. A copy a
    worker took first (`execute` returns None) is waited for; True when all ended in time."""
    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    elsewhere = 0
    with _progress_bar(total=len(ids), stream=stream) as bar:
        for copy_id in ids:
            ended = execute(copy_id)
            if ended is None:
                elsewhere += 1
                continue
            counts[ended.status] = counts.get(ended.status, 0) + 1
            _show(bar, counts)
            if time.monotonic() >= deadline:
                return False
        return not elsewhere or _poll(bar=bar, ids=ids, deadline=deadline, poll=poll)


@dataclass(frozen=True)
class CopiesOutcome:
    """Where a batch of copies stands, read in one query."""

    copies: list[dict[str, Any]]
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def read(cls, *, ids: Sequence[str]) -> "CopiesOutcome":
        copies = selectors.order_copy_outcomes(ids=ids)
        counts: dict[str, int] = {}
        for copy in copies:
            counts[copy["status"]] = counts.get(copy["status"], 0) + 1
        return cls(copies=copies, counts=counts)

    @property
    def unsuccessful(self) -> list[dict[str, Any]]:
        return [copy for copy in self.copies if copy["status"] in UNSUCCESSFUL]

    def summary(self) -> str:
        counts = ", ".join(f"{n} {status}" for status, n in sorted(self.counts.items()))
        lines = [f"{copies_counted(len(self.copies))}: {counts or 'none'}."]
        if self.unsuccessful:
            lines.append("Failed or aborted:")
            lines.extend(_outcome_line(copy) for copy in self.unsuccessful)
        top = _top_errors(self.copies)
        if top:
            lines.append("Most frequent errors:")
            lines.extend(f"  {n:>5} × {message}" for message, n in top)
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "counts": dict(sorted(self.counts.items())),
            "failed": [copy["id"] for copy in self.unsuccessful],
            "copies": self.copies,
        }


def _top_errors(copies: list[dict[str, Any]], limit: int = 5) -> list[tuple[str, int]]:
    counter: Counter[str] = Counter()
    for copy in copies:
        for key, messages in copy["errors"].items():
            counter.update(f"{key}: {message}" for message in messages)
    return counter.most_common(limit)


def _outcome_line(copy: dict[str, Any]) -> str:
    errors = "; ".join(
        f"{key}: {message}" for key, messages in copy["errors"].items() for message in messages
    )
    return (
        f"  {copy['id']} {copy['status']}, order #{copy['source_order_number']} "
        f"({copy['source_order']}): {errors or 'no errors recorded'}"
    )


def outcome_exit_status(
    *, outcome: CopiesOutcome | None, timed_out: bool = False, refused: int = 0
) -> ExitStatus:
    """The exit status of a run that was not refused as bad input; `outcome` is None when the
    run did not wait for the copies to end."""
    if outcome is not None and outcome.unsuccessful:
        return ExitStatus.COPY_FAILED
    if timed_out:
        return ExitStatus.TIMED_OUT
    if refused:
        return ExitStatus.REFUSED
    return ExitStatus.OK


class CommandHelpFormatter(DjangoHelpFormatter, RawDescriptionHelpFormatter):
    """Django's order of options, and the epilog (exit statuses) laid out as written."""


class CopiesCommand(BaseCommand):
    """A command that makes or retries copies, then follows them: the running options, the
    human text or the JSON document, and the exit status."""

    actor: Actor
    refusals = False  # whether exit status 4 (refused copies) can happen
    json_output = False

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        kwargs.update(
            formatter_class=CommandHelpFormatter,
            epilog=exit_statuses_help(refusals=self.refusals),
        )
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # The raw layout keeps the epilog's lines; the description is wrapped here instead.
        parser.description = textwrap.fill(self.help, width=79)
        return parser

    @staticmethod
    def add_running_arguments(parser: ArgumentParser, *, dry_run_help: str) -> None:
        run = parser.add_argument_group("how to run (default: queue for db_worker and return)")
        run.add_argument("--dry-run", action="store_true", help=dry_run_help)
        run.add_argument(
            "--wait",
            action="store_true",
            help="follow the queued copies with a progress bar until they end, then summarize",
        )
        run.add_argument(
            "--sync",
            action="store_true",
            help="run the copies in this process, one after the other, with a progress bar "
            "(no worker needed)",
        )
        run.add_argument(
            "--timeout",
            type=float,
            default=3600.0,
            metavar="SECONDS",
            help="how long --wait or --sync goes on before it stops (default: %(default)g)",
        )
        run.add_argument(
            "--json",
            action="store_true",
            help="print one JSON document on stdout for scripts (default: text for people)",
        )

    def prepare(self, opts: dict[str, Any]) -> None:
        self.json_output = opts["json"]
        if not opts["timeout"] > 0:
            raise CommandError(
                f"--timeout must be a positive number of seconds, not {opts['timeout']:g}"
            )

    def say(self, text: str) -> None:
        """Text for people; with --json, stdout holds the JSON document only."""
        if not self.json_output:
            self.stdout.write(text)

    def print_json(self, document: dict[str, Any]) -> None:
        self.stdout.write(json.dumps(document, indent=2, default=str))

    def follow(
        self, ids: list[str], *, opts: dict[str, Any], document: dict[str, Any], refused: int = 0
    ) -> None:
        """Run here (--sync) or wait for (--wait) the copies, or leave them to the workers;
        report them; raise the exit status when it is not 0."""
        followed = opts["sync"] or opts["wait"]
        ended = True
        if opts["sync"]:
            ended = copies_run_here(
                ids=ids, execute=self.run_copy, stream=self.stderr, timeout=opts["timeout"]
            )
        elif opts["wait"]:
            ended = copies_wait(ids=ids, timeout=opts["timeout"], stream=self.stderr)
        outcome = CopiesOutcome.read(ids=ids)
        status = outcome_exit_status(
            outcome=outcome if followed else None, timed_out=not ended, refused=refused
        )
        if self.json_output:
            document.update(followed=bool(followed), timed_out=not ended, **outcome.as_json())
            self.print_json({**document, "exit_status": int(status)})
        elif followed:
            self.stdout.write(outcome.summary())
        elif ids:
            self.stdout.write(
                "Queued: db_worker runs them. Follow them with --wait or in the admin."
            )
        if status is not ExitStatus.OK:
            raise CommandError(_exit_message(status, outcome, refused=refused), returncode=status)

    def run_copy(self, order_copy_id: str) -> OrderCopy | None:
        return services.order_copy_execute(order_copy_id=order_copy_id, actor=self.actor)


def _exit_message(status: ExitStatus, outcome: CopiesOutcome, *, refused: int) -> str:
    total = copies_counted(len(outcome.copies))
    if status is ExitStatus.COPY_FAILED:
        return f"failed or aborted: {len(outcome.unsuccessful)} of {total}"
    if status is ExitStatus.TIMED_OUT:
        running = len(outcome.copies) - sum(outcome.counts.get(s, 0) for s in ENDED)
        return (
            f"stopped waiting at --timeout: {copies_counted(running)} still pending or in "
            "progress (db_worker goes on with them)"
        )
    return f"{copies_counted(refused)} refused"
