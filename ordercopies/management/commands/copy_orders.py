import csv
from argparse import ArgumentParser
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date, parse_datetime

from core.actors import Actor
from core.models import Mode
from ordercopies import selectors, services
from ordercopies.exceptions import OrderCopyError
from ordercopies.models import OrderCopy
from ordercopies.progress import copies_run_here, copies_summary, copies_wait
from orders.models import Order

ACTOR = Actor(kind="system", label="copy_orders command")


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
    """Order ids from a file: one a line, or a CSV whose header has an `id` column."""
    file = Path(path)
    if not file.is_file():
        raise CommandError(f"--from-file: {path} does not exist")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CommandError(f"--from-file: {path} is not a UTF-8 text file") from None
    rows = [row for row in text.splitlines() if row.strip()]
    if rows and "," in rows[0]:
        header = next(csv.reader([rows[0]]))
        if "id" not in header:
            raise CommandError(f"--from-file: {path} is a CSV without an 'id' column")
        column = header.index("id")
        try:
            return [row[column].strip() for row in csv.reader(rows[1:]) if row]
        except IndexError:
            raise CommandError(f"--from-file: {path} has rows without an id") from None
    return [row.strip() for row in rows if not row.startswith("#")]


class Command(BaseCommand):
    help = "Copy orders as order copies: choose the orders, set the options, follow the progress."

    def add_arguments(self, parser: ArgumentParser) -> None:
        chosen = parser.add_argument_group("which orders")
        chosen.add_argument("--order", action="append", default=[], metavar="ID", dest="orders")
        chosen.add_argument("--from-file", metavar="PATH", help="ids one a line, or CSV with id")
        chosen.add_argument("--status", choices=Order.Status.values)
        chosen.add_argument("--market", metavar="CODE")
        chosen.add_argument("--customer-email")
        chosen.add_argument("--placed-after", metavar="DATE")
        chosen.add_argument("--placed-before", metavar="DATE")
        chosen.add_argument("--mode", choices=Mode.values, default=Mode.TEST)
        options = parser.add_argument_group("copy options")
        options.add_argument("--place-target-order", action="store_true")
        options.add_argument("--no-reuse-wallet", dest="reuse_wallet", action="store_false")
        options.add_argument("--cancel-source-order", action="store_true")
        options.add_argument("--apply-promotions", action="store_true")
        options.add_argument("--skip-errors", action="store_true")
        options.add_argument("--ignore-invalid-coupon", action="store_true")
        options.add_argument("--reference", default="")
        run = parser.add_argument_group("how to run")
        run.add_argument("--dry-run", action="store_true", help="show what would be copied")
        run.add_argument("--wait", action="store_true", help="follow the copies until they end")
        run.add_argument("--sync", action="store_true", help="run the copies in this process")
        run.add_argument("--timeout", type=float, default=3600, help="seconds --wait waits")

    def handle(self, *args: Any, **opts: Any) -> None:
        orders = self.select_orders(opts)
        copy_options = {name: opts[name] for name in OrderCopy.OPTIONS}
        if opts["dry_run"]:
            self.preview(orders, copy_options)
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
        self.stdout.write(f"Created {len(ids)} order copies.")
        self.follow(ids, opts)

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

    def preview(self, orders: list[Order], copy_options: dict[str, bool]) -> None:
        problems = selectors.copy_problems(
            orders=orders,
            reuse_wallet=copy_options["reuse_wallet"],
            ignore_invalid_coupon=copy_options["ignore_invalid_coupon"],
        )
        for order in orders:
            self.stdout.write(f"#{order.number} ({order.pk}, {order.status}, {order.market.code})")
            for problem in problems.get(order.pk, []):
                self.stdout.write(f"    ! {problem}")
        self.stdout.write(
            f"Dry run: {len(orders)} orders would be copied, {len(problems)} with problems "
            "already visible. Nothing was changed."
        )

    def follow(self, ids: list[str], opts: dict[str, Any]) -> None:
        if opts["sync"]:
            copies_run_here(
                ids=ids,
                execute=lambda pk: services.order_copy_execute(order_copy_id=pk, actor=ACTOR),
                stream=self.stderr,
            )
        elif opts["wait"]:
            if not copies_wait(ids=ids, timeout=opts["timeout"], stream=self.stderr):
                self.stdout.write(self.style.WARNING("Stopped waiting: some copies are running."))
        else:
            self.stdout.write("Queued: db_worker runs them. Follow them in the admin.")
            return
        self.stdout.write(copies_summary(ids=ids))
        failed = selectors.order_copy_status_counts(ids=ids).get("failed", 0)
        if failed:
            raise CommandError(f"{failed} of {len(ids)} copies failed", returncode=2)
