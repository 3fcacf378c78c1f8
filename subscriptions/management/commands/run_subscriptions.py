import logging
import signal
import time
from argparse import ArgumentParser
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from health.presence import process_presence
from subscriptions import services

logger = logging.getLogger("subscriptions.scheduler")


class Command(BaseCommand):
    help = (
        "Run the subscriptions that are due: one order copy per due subscription, expiries, "
        "renewal alerts. Once, or every --interval seconds with --loop. Safe to run in several "
        "processes or hosts at once: a scheduled time never yields two copies."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--loop", action="store_true", help="keep running until stopped")
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            metavar="S",
            help="seconds between two passes with --loop (SUBSCRIPTION_SCHEDULER_INTERVAL)",
        )
        parser.add_argument(
            "--limit",
            type=int,
            default=None,
            metavar="N",
            help="runs started per pass at most (SUBSCRIPTION_SCHEDULER_BATCH)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        interval = opts["interval"] or settings.SUBSCRIPTION_SCHEDULER_INTERVAL
        limit = opts["limit"] or settings.SUBSCRIPTION_SCHEDULER_BATCH
        if interval <= 0 or limit < 1:
            raise CommandError("--interval must be positive and --limit at least 1")
        if not opts["loop"]:
            self._pass(limit=limit)
            return
        self._stopping = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        # Alive for the console and /healthz while the loop runs (health/presence.py).
        with process_presence(kind="scheduler"):
            self.stdout.write(f"Scheduler started: a pass every {interval:g} s. Ctrl-C stops it.")
            self._loop(interval=interval, limit=limit)
        self.stdout.write("Scheduler stopped.")

    def _loop(self, *, interval: float, limit: int) -> None:
        while not self._stopping:
            started = time.monotonic()
            try:
                self._pass(limit=limit)
            except Exception:
                # The database went away, say: log it and try again at the next pass.
                logger.exception("scheduler pass failed")
            close_old_connections()
            self._sleep(interval - (time.monotonic() - started))

    def _pass(self, *, limit: int) -> None:
        report = services.order_subscription_run_due(limit=limit)
        self.stdout.write(f"Subscriptions: {report.summary()}.")
        for subscription_id in report.errors:
            self.stderr.write(f"subscription {subscription_id}: its run could not start (logged)")

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + max(0.0, seconds)
        while not self._stopping and time.monotonic() < deadline:
            time.sleep(min(0.2, deadline - time.monotonic()))

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        # Finish the pass under way: each claim is its own short transaction anyway.
        self._stopping = True
