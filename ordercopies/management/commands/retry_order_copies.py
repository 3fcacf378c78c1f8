from argparse import ArgumentParser
from typing import Any

from django.core.management.base import CommandError

from core.actors import Actor
from core.models import Mode
from ordercopies import selectors, services
from ordercopies.exceptions import OrderCopyError
from ordercopies.management.commands.copy_orders import parse_moment
from ordercopies.models import OrderCopy
from ordercopies.progress import CopiesCommand, copies_counted

ACTOR = Actor(kind="system", label="retry_order_copies command")
RETRYABLE = [OrderCopy.Status.FAILED.value, OrderCopy.Status.ABORTED.value]


class Command(CopiesCommand):
    help = (
        "Retry failed or aborted order copies: each goes back to pending and is queued again; "
        "the errors of its previous attempt stay in its events. By default the retried copies "
        "are queued for db_worker and the command returns at once; --wait follows them, --sync "
        "runs them here. Copies are chosen in test mode unless --mode live."
    )
    actor = ACTOR
    refusals = True

    def add_arguments(self, parser: ArgumentParser) -> None:
        chosen = parser.add_argument_group("which copies (default: every failed copy)")
        chosen.add_argument(
            "--order-copy",
            action="append",
            default=[],
            metavar="ID",
            dest="ids",
            help="a copy to retry, by id (repeat it for more); not with --status or --since",
        )
        chosen.add_argument(
            "--status", choices=RETRYABLE, help="copies in this status (default: failed)"
        )
        chosen.add_argument(
            "--since",
            metavar="DATE",
            help="copies created at or after this date (YYYY-MM-DD, midnight UTC) or ISO "
            "datetime (default: any time)",
        )
        chosen.add_argument(
            "--mode",
            choices=Mode.values,
            default=Mode.TEST,
            help="copies of this mode (default: %(default)s)",
        )
        self.add_running_arguments(
            parser,
            dry_run_help="list the copies that would be retried and those the retry would "
            "refuse, with the reason; change nothing",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        self.prepare(opts)
        copies = self.select(opts)
        document: dict[str, Any] = {
            "command": "retry_order_copies",
            "mode": opts["mode"],
            "dry_run": opts["dry_run"],
        }
        plan = [(copy, _refusal(copy)) for copy in copies]
        if opts["dry_run"]:
            self.preview(plan, document=document)
            return
        retried, refused = _retry(plan)
        self.say(
            f"Retried {copies_counted(len(retried))}{': ' if retried else ''}"
            f"{', '.join(retried)}; {len(refused)} refused."
        )
        for refusal in refused:
            self.say(f"  refused {refusal['id']}: {refusal['reason']}")
        document.update(retried=retried, refused=refused)
        self.follow(retried, opts=opts, document=document, refused=len(refused))

    def select(self, opts: dict[str, Any]) -> list[OrderCopy]:
        if opts["ids"] and (opts["status"] or opts["since"]):
            raise CommandError(
                "--order-copy chooses the copies itself: leave out --status and --since"
            )
        since = opts["since"] and parse_moment(opts["since"], option="--since")
        copies = list(
            selectors.order_copy_select(
                mode=opts["mode"],
                ids=opts["ids"],
                status=None if opts["ids"] else opts["status"] or OrderCopy.Status.FAILED,
                created_since=since or None,
            )
        )
        unknown = sorted(set(opts["ids"]) - {copy.pk for copy in copies})
        if unknown:
            raise CommandError(f"no {opts['mode']} order copy has the id: {', '.join(unknown)}")
        return copies

    def preview(
        self, plan: list[tuple[OrderCopy, str | None]], *, document: dict[str, Any]
    ) -> None:
        """What the real run would do to each copy: the plan it follows."""
        would_retry, would_refuse = [], []
        for copy, refusal in plan:
            about = {"id": copy.pk, "status": copy.status, "source_order": copy.source_order_id}
            if refusal is None:
                would_retry.append({**about, "errors": copy.errors_log})
            else:
                would_refuse.append({**about, "reason": refusal})
            self.say(_previewed(copy, refusal))
        if self.json_output:
            document.update(would_retry=would_retry, would_refuse=would_refuse, exit_status=0)
            self.print_json(document)
            return
        self.stdout.write(
            f"Dry run: {copies_counted(len(would_retry))} would be retried, "
            f"{len(would_refuse)} refused. Nothing was changed."
        )


def _retry(
    plan: list[tuple[OrderCopy, str | None]],
) -> tuple[list[str], list[dict[str, str]]]:
    """Retry what the plan retries: the ids retried, and the refusals with their reasons."""
    retried, refused = [], []
    for copy, refusal in plan:
        if refusal is None:
            # The service checks again with the row locked: the copy may have changed since.
            try:
                retried.append(services.order_copy_retry(order_copy=copy, actor=ACTOR).pk)
                continue
            except OrderCopyError as error:
                refusal = error.message
        refused.append({"id": copy.pk, "status": copy.status, "reason": refusal})
    return retried, refused


def _refusal(copy: OrderCopy) -> str | None:
    """Why the retry would refuse the copy as it is now, by the retry's own rule (the model's
    transition); a running copy is refused at once, without waiting for its worker."""
    return selectors.order_copy_trigger_refusal(order_copy=copy, trigger="retry")


def _previewed(copy: OrderCopy, refusal: str | None) -> str:
    about = (
        f"{copy.pk} ({copy.status}) of order #{copy.source_order.number} ({copy.source_order_id})"
    )
    if refusal is not None:
        return f"{about}: would be refused: {refusal}"
    errors = "; ".join(f"{key}: {m}" for key, ms in copy.errors_log.items() for m in ms)
    return f"{about}: would be retried; its errors: {errors or 'none recorded'}"
