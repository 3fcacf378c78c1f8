from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.actors import Actor
from core.models import Mode
from ordercopies import services
from ordercopies.exceptions import OrderCopyError
from ordercopies.management.commands.copy_orders import parse_moment
from ordercopies.models import OrderCopy
from ordercopies.progress import copies_summary, copies_wait

ACTOR = Actor(kind="system", label="retry_order_copies command")
RETRYABLE = [OrderCopy.Status.FAILED, OrderCopy.Status.ABORTED]


class Command(BaseCommand):
    help = "Retry failed or aborted order copies."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--status", choices=RETRYABLE, default=OrderCopy.Status.FAILED)
        parser.add_argument("--since", metavar="DATE", help="copies created since this moment")
        parser.add_argument("--order-copy", action="append", default=[], metavar="ID", dest="ids")
        parser.add_argument("--mode", choices=Mode.values, default=Mode.TEST)
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument("--wait", action="store_true")
        parser.add_argument("--timeout", type=float, default=3600)

    def handle(self, *args: Any, **opts: Any) -> None:
        copies = self.select(opts)
        if opts["dry_run"]:
            for copy in copies:
                errors = "; ".join(m for ms in copy.errors_log.values() for m in ms)
                self.stdout.write(
                    f"{copy.pk} ({copy.status}) of order {copy.source_order_id}: {errors}"
                )
            self.stdout.write(
                f"Dry run: {len(copies)} copies would be retried. Nothing was changed."
            )
            return
        retried, refused = [], []
        for copy in copies:
            try:
                retried.append(services.order_copy_retry(order_copy=copy, actor=ACTOR).pk)
            except OrderCopyError as error:
                refused.append(f"{copy.pk}: {error.message}")
        self.stdout.write(f"Retried {len(retried)} copies; {len(refused)} refused.")
        for line in refused:
            self.stdout.write(f"  refused {line}")
        if opts["wait"] and retried:
            copies_wait(ids=retried, timeout=opts["timeout"], stream=self.stderr)
            self.stdout.write(copies_summary(ids=retried))

    def select(self, opts: dict[str, Any]) -> list[OrderCopy]:
        copies = OrderCopy.objects.filter(mode=opts["mode"]).order_by("created_at")
        if opts["ids"]:
            found = list(copies.filter(pk__in=opts["ids"]))
            unknown = sorted(set(opts["ids"]) - {copy.pk for copy in found})
            if unknown:
                raise CommandError(f"no {opts['mode']} order copy has the id: {', '.join(unknown)}")
            return found
        copies = copies.filter(status=opts["status"])
        if opts["since"]:
            copies = copies.filter(created_at__gte=parse_moment(opts["since"], option="--since"))
        return list(copies)
