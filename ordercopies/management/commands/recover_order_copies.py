from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ordercopies import services


class Command(BaseCommand):
    help = (
        "Find copies left in progress by a worker that died: queue them again, or abort them "
        "after --max-attempts; queue again pending copies left without a job; close the job "
        "rows of dead workers. Every copy_worker runs this sweep on its own every "
        "ORDER_COPY_RECOVERY_INTERVAL seconds (on PostgreSQL)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--max-attempts", type=int, default=None)

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["max_attempts"] is not None and opts["max_attempts"] < 1:
            raise CommandError("--max-attempts must be at least 1")
        done = services.order_copy_recover_lost(max_attempts=opts["max_attempts"])
        for outcome, ids in done.items():
            for copy_id in ids:
                self.stdout.write(f"{outcome}: {copy_id}")
        self.stdout.write(
            f"Lost copies: {len(done['requeued'])} queued again, {len(done['aborted'])} aborted."
        )
