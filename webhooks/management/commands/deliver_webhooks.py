"""`manage.py deliver_webhooks`: the webhook delivery worker. Run as many as you like, on any
hosts: each claims one due delivery at a time with SKIP LOCKED and holds it while it calls the
receiver, so two workers never call for the same delivery at once and a killed worker's
delivery is simply due again. SIGTERM (or Ctrl-C) finishes the call under way, then stops."""

import logging
import signal
import time
from argparse import ArgumentParser
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connection

from webhooks import services

logger = logging.getLogger("webhooks.worker")


class Command(BaseCommand):
    help = (
        "Deliver webhooks: POST each due delivery to its callback URL, signed, with retries and "
        "backoff, until stopped (or once with --once)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            metavar="S",
            help="seconds to wait when nothing is due (WEBHOOKS_POLL_INTERVAL)",
        )
        parser.add_argument(
            "--once", action="store_true", help="deliver what is due now, then exit"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        interval = opts["interval"] or settings.WEBHOOKS_POLL_INTERVAL
        if interval <= 0:
            raise CommandError("--interval must be positive")
        if opts["once"]:
            delivered = 0
            while services.webhook_delivery_attempt_next() is not None:
                delivered += 1
            self.stdout.write(f"Webhook deliveries attempted: {delivered}.")
            return
        self._stopping = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        self.stdout.write(
            f"Webhook worker started: polling every {interval:g} s. Ctrl-C stops it.",
        )
        self.stdout.flush()
        self._loop(interval=interval)
        self.stdout.write("Webhook worker stopped.")

    def _loop(self, *, interval: float) -> None:
        while not self._stopping:
            try:
                attempted = services.webhook_delivery_attempt_next()
            except Exception:
                # The database went away, say: log it, drop the connection, try again.
                logger.exception("webhook delivery failed; trying again in %g s", interval)
                connection.close()
                attempted = None
            if attempted is None:
                close_old_connections()
                self._sleep(interval)

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < deadline:
            time.sleep(min(0.1, deadline - time.monotonic()))

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True
