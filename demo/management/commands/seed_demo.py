import random
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from demo.subscriptions import (
    SUBSCRIPTIONS,
    SubscriptionSpec,
    demo_subscription_ensure,
    demo_subscription_statuses,
)
from orders.demo import (
    DEMO_ADMIN,
    ModePlan,
    demo_catalog_ensure,
    demo_counts,
    demo_order_ensure,
    demo_order_statuses,
    demo_plan,
    demo_superuser_ensure,
)
from orders.exceptions import OrderError
from orders.models import Order
from subscriptions.exceptions import OrderSubscriptionError
from subscriptions.models import OrderSubscription

DEFAULT_SEED = 2024
STATUS_ORDER = [*Order.Status, "archived"]


class Command(BaseCommand):
    help = (
        "Load demo data: markets, SKUs, customers with wallets, promotions, coupons, about 50 "
        "orders and subscriptions in every status (test mode), a small live-mode set, and an "
        "admin/admin superuser when DEBUG is on. Safe to run again: what exists is kept as it is."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED, help="Random seed of the demo plan."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        plans = demo_plan(rng=random.Random(options["seed"]))
        built = sum(self._build(plan) for plan in plans)
        total = sum(len(plan.orders) for plan in plans)
        self.stdout.write(f"Orders: {built} built, {total - built} already there.")
        built = sum(self._build_subscription(spec) for spec in SUBSCRIPTIONS)
        self.stdout.write(
            f"Subscriptions: {built} built, {len(SUBSCRIPTIONS) - built} already there."
        )
        for plan in plans:
            self._summarize(plan.data.mode)
        if settings.DEBUG:
            created = demo_superuser_ensure()
            state = "created" if created else "already there"
            self.stdout.write(f"Superuser {DEMO_ADMIN} (password {DEMO_ADMIN}): {state}.")
        self.stdout.write(self.style.SUCCESS("Demo data ready."))

    def _build(self, plan: ModePlan) -> int:
        catalog = demo_catalog_ensure(data=plan.data)
        built = 0
        progress = tqdm(plan.orders, desc=f"{plan.data.mode} orders", unit="order", disable=None)
        for spec in progress:
            try:
                built += demo_order_ensure(spec=spec, catalog=catalog)
            except OrderError as exc:
                raise CommandError(
                    f"demo order {spec.reference} could not be built: {exc}"
                ) from exc
        return built

    def _build_subscription(self, spec: SubscriptionSpec) -> bool:
        try:
            return demo_subscription_ensure(spec=spec)
        except (OrderSubscriptionError, OrderError, LookupError) as exc:
            raise CommandError(
                f"demo subscription {spec.reference} could not be built: {exc}"
            ) from exc

    def _summarize(self, mode: str) -> None:
        counts = ", ".join(f"{label} {count}" for label, count in demo_counts(mode=mode).items())
        statuses = demo_order_statuses(mode=mode)
        by_status = ", ".join(f"{status} {statuses[status]}" for status in STATUS_ORDER)
        self.stdout.write(f"{mode.capitalize()} mode: {counts}.")
        self.stdout.write(f"  orders by status: {by_status}.")
        statuses = demo_subscription_statuses(mode=mode)
        by_status = ", ".join(f"{status} {statuses[status]}" for status in OrderSubscription.Status)
        self.stdout.write(f"  subscriptions by status: {by_status}.")
