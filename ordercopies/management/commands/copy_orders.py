import csv
from argparse import ArgumentParser
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError
from django.utils.dateparse import parse_date, parse_datetime

from core.actors import Actor
from core.models import Mode
from ordercopies import selectors, services
from ordercopies.exceptions import OrderCopyError
from ordercopies.models import OrderCopy
from ordercopies.options import CopyOptions
from ordercopies.progress import CopiesCommand, copies_counted, counted
from orders.models import Order

ACTOR = Actor(kind="system", label="copy_orders command")

COPY_FLAGS = {
    "--place-target-order": "place each new order (default: it stays a draft)",
    "--cancel-source-order": "cancel each source order (default: it is left as it is)",
    "--apply-promotions": "compute the discounts again (default: the source's are kept)",
    "--skip-errors": "complete a copy despite errors once its new order exists (default: any "
    "error fails the copy and leaves nothing behind)",
    "--ignore-invalid-coupon": "copy without a coupon that is no longer valid (default: an "
    "invalid coupon fails the copy)",
}


def parse_moment(value: str, *, option: str) -> datetime:
    """An ISO date (midnight UTC) or datetime (UTC unless it says otherwise)."""
    try:
        moment = parse_datetime(value)
        day = parse_date(value) if moment is None else None
    except ValueError:
        moment = day = None
    if moment is None and day is None:
        raise CommandError(f"{option}: {value!r} is not a date (YYYY-MM-DD) or ISO datetime")
    if moment is None:
        moment = datetime.combine(day, time.min)  # type: ignore[arg-type]
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def read_ids(path: str) -> list[str]:
    """Order ids from a file: one a line (lines starting with # are comments), or a CSV whose
    header has an `id` column."""
    rows = [row for row in _read_text(path).splitlines() if row.strip()]
    if rows and ("," in rows[0] or rows[0].strip() == "id"):
        ids = _csv_ids(rows, path=path)
    else:
        ids = [row.strip() for row in rows if not row.lstrip().startswith("#")]
    if not ids:
        raise CommandError(f"--from-file: {path} contains no order ids")
    return ids


def _read_text(path: str) -> str:
    file = Path(path)
    try:
        if file.is_dir():
            raise CommandError(f"--from-file: {path} is a directory, not a file of order ids")
        if not file.exists():
            raise CommandError(f"--from-file: {path} does not exist")
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CommandError(f"--from-file: {path} is not a UTF-8 text file") from None
    except OSError as error:
        raise CommandError(f"--from-file: cannot read {path}: {error.strerror}") from None


def _csv_ids(rows: list[str], *, path: str) -> list[str]:
    header = [name.strip() for name in next(csv.reader([rows[0]]))]
    if "id" not in header:
        raise CommandError(f"--from-file: {path} is a CSV without an 'id' column: {rows[0]}")
    column = header.index("id")
    ids = []
    for number, row in enumerate(csv.reader(rows[1:]), start=2):
        value = row[column].strip() if column < len(row) else ""
        if not value:
            raise CommandError(f"--from-file: {path} has no id in CSV row {number}")
        ids.append(value)
    return ids


class Command(CopiesCommand):
    help = (
        "Copy orders as order copies: choose the orders, set the options, follow the copies. "
        "By default the copies are queued for db_worker and the command returns at once; "
        "--wait follows them, --sync runs them here. Orders are chosen in test mode unless "
        "--mode live."
    )
    actor = ACTOR

    def add_arguments(self, parser: ArgumentParser) -> None:
        _add_selection_arguments(parser.add_argument_group("which orders (at least one)"))
        options = parser.add_argument_group("copy options")
        for flag, text in COPY_FLAGS.items():
            options.add_argument(flag, action="store_true", help=text)
        options.add_argument(
            "--no-reuse-wallet",
            dest="reuse_wallet",
            action="store_false",
            help="never copy the payment source (default: copied when in the customer's wallet)",
        )
        options.add_argument(
            "--reference", default="", help="a reference stored on every copy (default: none)"
        )
        self.add_running_arguments(
            parser,
            dry_run_help="list the orders that would be copied with what their copies would "
            "record, by the copy's own checks (out-of-stock SKUs, invalid coupons, refused "
            "placements; payment sources outside the wallet); change nothing",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        self.prepare(opts)
        orders = self.select_orders(opts)
        copy_options = {name: opts[name] for name in OrderCopy.OPTIONS}
        if opts["dry_run"]:
            self.preview(orders, copy_options, mode=opts["mode"])
            return
        try:
            copies = services.order_copy_create_many(
                source_orders=orders,
                mode=opts["mode"],
                actor=ACTOR,
                reference=opts["reference"],
                **copy_options,
            )
        except OrderCopyError as error:
            raise CommandError(error.message) from None
        ids = [copy.pk for copy in copies]
        self.say(f"Created {copies_counted(len(ids))}: {', '.join(ids)}.")
        document = {"command": "copy_orders", "mode": opts["mode"], "dry_run": False}
        self.follow(ids, opts=opts, document={**document, "created": ids})

    def select_orders(self, opts: dict[str, Any]) -> list[Order]:
        ids = list(opts["orders"]) + (read_ids(opts["from_file"]) if opts["from_file"] else [])
        after = opts["placed_after"] and parse_moment(opts["placed_after"], option="--placed-after")
        before = opts["placed_before"] and parse_moment(
            opts["placed_before"], option="--placed-before"
        )
        if after and before and after >= before:
            raise CommandError("--placed-after must be earlier than --placed-before")
        filters = (opts["status"], opts["market"], opts["customer_email"], after, before)
        if not ids and not any(filters):
            raise CommandError(
                "choose the orders: --order, --from-file, or a filter such as --status"
            )
        orders = list(
            selectors.source_orders_select(
                mode=opts["mode"],
                ids=ids,
                status=opts["status"],
                market_code=opts["market"],
                customer_email=opts["customer_email"],
                placed_after=after or None,
                placed_before=before or None,
            )
        )
        unknown = sorted(set(ids) - {order.pk for order in orders})
        if ids and unknown and not any(filters):
            raise CommandError(f"no {opts['mode']} order has the id: {', '.join(unknown)}")
        if not orders:
            raise CommandError("no order matches the selection; nothing to copy")
        return orders

    def preview(self, orders: list[Order], copy_options: dict[str, bool], *, mode: str) -> None:
        # The copies' own plan (the engine's checks, nothing written), as one batch would run.
        plans = services.order_copy_plan_many(
            source_orders=orders, mode=mode, options=CopyOptions(**copy_options)
        )
        planned = dict(zip((order.pk for order in orders), plans, strict=True))
        problems = {
            order.pk: found
            for order, plan in zip(orders, plans, strict=True)
            if (found := _plan_problems(order, plan))
        }
        if self.json_output:
            self.print_json(
                {
                    "command": "copy_orders",
                    "mode": mode,
                    "dry_run": True,
                    "orders": [
                        _previewed(order, problems.get(order.pk, []), planned[order.pk])
                        for order in orders
                    ],
                    "exit_status": 0,
                }
            )
            return
        for order in orders:
            self.stdout.write(f"#{order.number} ({order.pk}, {order.status}, {order.market.code})")
            for problem in problems.get(order.pk, []):
                self.stdout.write(f"    ! {problem}")
        self.stdout.write(
            f"Dry run: {counted(len(orders), 'order', 'orders')} would be copied, "
            f"{len(problems)} with problems already visible. Nothing was changed."
        )


def _add_selection_arguments(chosen: Any) -> None:
    chosen.add_argument(
        "--order",
        action="append",
        default=[],
        metavar="ID",
        dest="orders",
        help="an order to copy, by id (repeat it for more)",
    )
    chosen.add_argument(
        "--from-file",
        metavar="PATH",
        help="order ids one a line (# starts a comment), or a CSV whose header has an id column",
    )
    chosen.add_argument(
        "--status", choices=Order.Status.values, help="orders in this status (default: any)"
    )
    chosen.add_argument("--market", metavar="CODE", help="orders of the market with this code")
    chosen.add_argument(
        "--customer-email", metavar="EMAIL", help="orders of this customer (any case)"
    )
    chosen.add_argument(
        "--placed-after",
        metavar="DATE",
        help="orders placed at or after this date (YYYY-MM-DD, midnight UTC) or ISO datetime",
    )
    chosen.add_argument(
        "--placed-before", metavar="DATE", help="orders placed before this date or ISO datetime"
    )
    chosen.add_argument(
        "--mode",
        choices=Mode.values,
        default=Mode.TEST,
        help="orders and copies of this mode (default: %(default)s)",
    )


def _plan_problems(order: Order, plan: dict[str, Any]) -> list[str]:
    """The errors the copy would record, and a payment source it would not carry over."""
    found = [message for messages in plan["errors_log"].values() for message in messages]
    wallet_dropped = plan["options"]["reuse_wallet"] and order.payment_source_id
    if wallet_dropped and plan["payment"]["payment_source"] is None:
        found.append("the payment source is not in the customer's wallet: it will not be copied")
    return found


def _previewed(order: Order, problems: list[str], plan: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": order.pk,
        "number": order.number,
        "status": order.status,
        "market": order.market.code,
        "problems": problems,
        "plan": plan,
    }
