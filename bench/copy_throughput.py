"""Copy throughput, in one run on the configured PostgreSQL database:

  1. a raw-SQL baseline: the same orders, addresses and lines copied set-wise with INSERT … SELECT
     (the floor: no pricing, no checks, no events, no jobs);
  2. copies through the services, in this process: one copy at a time (batches of one), then in
     batches of ORDER_COPY_BATCH_SIZE;
  3. copies end to end through `manage.py copy_worker` processes: jobs of one copy with 1 worker,
     then batched jobs with 1 and 2 workers;
  4. with --subscriptions N: N due subscriptions, one scheduler pass, 2 workers, until every
     run's copy completed;
  5. the latency of a lone copy (created as the API creates it, to completed) with one idle
     worker waiting;

then copies per second for each and the ratio to the baseline of the same run. It works in a
throw-away test database (test_<name>) that it creates, migrates and drops.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ordercopies \
        .venv/bin/python bench/copy_throughput.py [--orders 500 --lines 20 --place]
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django_tasks_db.models import DBTaskResult  # noqa: E402

from ordercopies import services  # noqa: E402
from ordercopies.models import OrderCopy  # noqa: E402
from orders.models import (  # noqa: E402
    Address,
    Customer,
    CustomerPaymentSource,
    LineItem,
    Market,
    Order,
    PaymentMethod,
    PaymentSource,
    Sku,
    SkuPrice,
)

SOURCE = "bench-source"


def build_sources(orders: int, lines: int) -> list[str]:
    """N source orders of M lines, inserted in bulk (set-up, not measured)."""
    market = Market.objects.create(code="bench", name="Bench", currency_code="EUR", tax_rate="0.2")
    skus = Sku.objects.bulk_create(
        Sku(code=f"B-{i:04d}", name=f"Bench {i}", stock_quantity=10**9) for i in range(lines * 4)
    )
    SkuPrice.objects.bulk_create(SkuPrice(sku=s, market=market, amount_cents=1234) for s in skus)
    method = PaymentMethod.objects.create(market=market, name="Card", payment_source_type="cards")
    customers = Customer.objects.bulk_create(Customer(email=f"b{i}@example.com") for i in range(50))
    sources = PaymentSource.objects.bulk_create(
        PaymentSource(payment_source_type="cards", customer=c) for c in customers
    )
    CustomerPaymentSource.objects.bulk_create(
        CustomerPaymentSource(customer=c, payment_source=s)
        for c, s in zip(customers, sources, strict=True)
    )
    addresses = Address.objects.bulk_create(
        Address(line_1=f"{i} Bench Road", city="Milan", country_code="IT") for i in range(orders)
    )
    built = Order.objects.bulk_create(
        Order(
            number=f"BS{i}",
            reference=SOURCE,
            market=market,
            currency_code="EUR",
            customer=customers[i % 50],
            customer_email=customers[i % 50].email,
            shipping_address=addresses[i],
            billing_address=addresses[i],
            payment_method=method,
            payment_source=sources[i % 50],
            subtotal_amount_cents=1234 * lines,
            total_amount_cents=1234 * lines,
            skus_count=lines,
        )
        for i in range(orders)
    )
    LineItem.objects.bulk_create(
        LineItem(
            order=order,
            sku=skus[(i + j) % len(skus)],
            sku_code=skus[(i + j) % len(skus)].code,
            name="Bench item",
            quantity=1,
            unit_amount_cents=1234,
            total_amount_cents=1234,
        )
        for i, order in enumerate(built)
        for j in range(lines)
    )
    return [order.pk for order in built]


BASELINE_SQL = [
    """CREATE TEMP TABLE bench_map ON COMMIT DROP AS
       SELECT id AS src, substr(md5(random()::text || id), 1, 10) AS dst,
              substr(md5(random()::text || id || 'a'), 1, 10) AS addr,
              'BB' || row_number() OVER () || '-' || %(run)s AS number
       FROM orders_order WHERE reference = %(source)s""",
    """INSERT INTO orders_address (id, mode, created_at, updated_at, reference, reference_origin,
           metadata, first_name, last_name, company, line_1, line_2, city, zip_code, state_code,
           country_code, phone, email)
       SELECT m.addr, a.mode, now(), now(), '', '', '{}', a.first_name, a.last_name, a.company,
           a.line_1, a.line_2, a.city, a.zip_code, a.state_code, a.country_code, a.phone, a.email
       FROM bench_map m JOIN orders_order o ON o.id = m.src
       JOIN orders_address a ON a.id = o.shipping_address_id""",
    """INSERT INTO orders_order (id, mode, created_at, updated_at, reference, reference_origin,
           metadata, number, status, payment_status, fulfillment_status, market_id, customer_id,
           customer_email, language_code, currency_code, country_code, coupon_code,
           gift_card_code, shipping_address_id, billing_address_id, payment_method_id,
           payment_source_id, subtotal_amount_cents, discount_amount_cents,
           shipping_amount_cents, total_tax_amount_cents, total_amount_cents, skus_count)
       SELECT m.dst, o.mode, now(), now(), 'bench-baseline', '', '{}', m.number, 'pending',
           'unpaid', 'unfulfilled', o.market_id, o.customer_id, o.customer_email,
           o.language_code, o.currency_code, o.country_code, o.coupon_code, o.gift_card_code,
           m.addr, m.addr, o.payment_method_id, o.payment_source_id, o.subtotal_amount_cents,
           o.discount_amount_cents, o.shipping_amount_cents, o.total_tax_amount_cents,
           o.total_amount_cents, o.skus_count
       FROM bench_map m JOIN orders_order o ON o.id = m.src""",
    """INSERT INTO orders_lineitem (id, mode, created_at, updated_at, reference,
           reference_origin, metadata, order_id, item_type, sku_id, promotion_id, sku_code, name,
           quantity, unit_amount_cents, total_amount_cents)
       SELECT substr(md5(random()::text || l.id), 1, 10), l.mode, now(), now(), '', '', '{}',
           m.dst, l.item_type, l.sku_id, l.promotion_id, l.sku_code, l.name, l.quantity,
           l.unit_amount_cents, l.total_amount_cents
       FROM bench_map m JOIN orders_lineitem l ON l.order_id = m.src""",
]


def run_baseline(run: int) -> float:
    started = time.perf_counter()
    with connection.cursor() as cursor, transaction.atomic():
        for statement in BASELINE_SQL:
            cursor.execute(statement, {"source": SOURCE, "run": run})
    return time.perf_counter() - started


def _drop_queued_jobs() -> None:
    # Copies run here: drop their queued jobs, or the worker runs would meet them as no-ops.
    DBTaskResult.objects.filter(
        status="READY", task_path__endswith="order_copy_execute_task"
    ).delete()


def run_in_process(ids: list[str], options: dict[str, bool], *, batch: int) -> float:
    copies = services.order_copy_create_many(source_orders=ids, mode="test", **options)
    _drop_queued_jobs()
    copy_ids = [copy.pk for copy in copies]
    started = time.perf_counter()
    for start in range(0, len(copy_ids), batch):
        services.order_copy_execute_many(order_copy_ids=copy_ids[start : start + batch])
    elapsed = time.perf_counter() - started
    _check_completed(copies)
    return elapsed


def _worker_args(*, stop_when_empty: bool) -> list[str]:
    args = [sys.executable, "manage.py", "copy_worker", "--interval", "0.01"]
    return (
        args + ["--no-startup-delay", "--verbosity", "0"] + (["--batch"] if stop_when_empty else [])
    )


def _worker_env(database_url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url, "DEBUG": "false", "SECRET_KEY": "bench"}


def run_workers(
    ids: list[str], options: dict[str, bool], workers: int, database_url: str, *, batch: int
) -> float:
    with override_settings(ORDER_COPY_BATCH_SIZE=batch):
        copies = services.order_copy_create_many(source_orders=ids, mode="test", **options)
    env = _worker_env(database_url)
    started = time.perf_counter()
    processes = [
        subprocess.Popen(_worker_args(stop_when_empty=True), cwd=ROOT, env=env)
        for _ in range(workers)
    ]
    for process in processes:
        if process.wait() != 0:
            raise SystemExit(f"a copy_worker exited with status {process.returncode}")
    elapsed = time.perf_counter() - started
    _check_completed(copies)
    return elapsed


def run_lone_copy_latency(source_id: str, options: dict[str, bool], database_url: str) -> float:
    """Median seconds from a lone copy's creation (committed, as the API's POST) to its
    completion, over 5 copies, with one worker already waiting."""
    worker = subprocess.Popen(
        _worker_args(stop_when_empty=False), cwd=ROOT, env=_worker_env(database_url)
    )
    try:
        time.sleep(3)  # the worker is up and polling
        latencies = []
        for _ in range(5):
            started = time.perf_counter()
            copy = services.order_copy_create(source_order=source_id, mode="test", **options)
            while OrderCopy.objects.filter(pk=copy.pk, status="completed").count() == 0:
                time.sleep(0.002)
            latencies.append(time.perf_counter() - started)
        return sorted(latencies)[len(latencies) // 2]
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def run_scheduler(ids: list[str], count: int, database_url: str) -> tuple[float, float]:
    """`count` due subscriptions (made from the sources, active and due: set-up, not measured),
    then one scheduler pass and 2 workers until every run's copy completed. Returns the
    seconds of the pass alone and of the whole."""
    from django.utils import timezone

    from subscriptions.models import OrderSubscription, SubscriptionRun
    from subscriptions.services import order_subscription_create, order_subscription_run_due

    made = [
        order_subscription_create(
            source_order=ids[i % len(ids)],
            mode="test",
            frequency="daily",
            activate_by_source_order=False,
            starts_at=timezone.now(),
        ).pk
        for i in range(count)
    ]
    OrderSubscription.objects.filter(pk__in=made).update(
        status=OrderSubscription.Status.ACTIVE, next_run_at=timezone.now()
    )
    started = time.perf_counter()
    report = order_subscription_run_due(limit=count)
    if len(report.started) != count:
        raise SystemExit(f"the pass started {len(report.started)} runs of {count}")
    passed = time.perf_counter() - started
    env = _worker_env(database_url)
    workers = [
        subprocess.Popen(_worker_args(stop_when_empty=True), cwd=ROOT, env=env) for _ in range(2)
    ]
    for worker in workers:
        if worker.wait() != 0:
            raise SystemExit(f"a copy_worker exited with status {worker.returncode}")
    elapsed = time.perf_counter() - started
    runs = SubscriptionRun.objects.filter(subscription_id__in=made)
    copies = list(OrderCopy.objects.filter(pk__in=runs.values("order_copy_id")))
    _check_completed(copies)
    return passed, elapsed


def _check_completed(copies: list[OrderCopy]) -> None:
    statuses = set(
        OrderCopy.objects.filter(pk__in=[c.pk for c in copies]).values_list("status", flat=True)
    )
    if statuses != {"completed"}:
        raise SystemExit(f"copies ended as {statuses}, expected all completed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=5)
    parser.add_argument("--place", action="store_true", help="copies place their target order")
    parser.add_argument("--skip-workers", action="store_true")
    parser.add_argument(
        "--subscriptions",
        type=int,
        default=0,
        help="also time N due subscriptions: one scheduler pass, 2 workers, all copies completed",
    )
    options = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit(
            "bench/copy_throughput.py needs PostgreSQL: set DATABASE_URL=postgres://..."
        )
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    s = connection.settings_dict
    database_url = f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{name}"
    try:
        ids = build_sources(options.orders, options.lines)
        n = len(ids)
        print(f"{n} source orders × {options.lines} lines on PostgreSQL ({name})")
        baseline = "raw SQL INSERT … SELECT (baseline)"
        results = {baseline: run_baseline(1)}
        copy_options = {"place_target_order": options.place}
        size = settings.ORDER_COPY_BATCH_SIZE
        results["one copy at a time, in process"] = run_in_process(ids, copy_options, batch=1)
        results[f"batches of {size}, in process"] = run_in_process(ids, copy_options, batch=size)
        if not options.skip_workers:
            url = database_url
            results["1 copy_worker, jobs of 1 copy"] = run_workers(
                ids, copy_options, 1, url, batch=1
            )
            for workers in (1, 2):
                results[f"{workers} copy_worker(s), jobs of {size}"] = run_workers(
                    ids, copy_options, workers, url, batch=size
                )
        base = n / results[baseline]
        print(f"{'path':<40}{'seconds':>10}{'copies/s':>12}{'vs baseline':>14}")
        for label, seconds in results.items():
            rate = n / seconds
            print(f"{label:<40}{seconds:>10.2f}{rate:>12.1f}{rate / base:>13.3f}×")
        if options.subscriptions:
            passed, seconds = run_scheduler(ids, options.subscriptions, database_url)
            rate = options.subscriptions / seconds
            print(
                f"scheduler: {options.subscriptions} due subscriptions to every copy completed "
                f"in {seconds:.1f}s, the pass itself {passed:.1f}s ({rate:.0f} runs/s; "
                f"100,000 would take {100_000 / rate:.0f}s at that rate)"
            )
        if not options.skip_workers:
            latency = run_lone_copy_latency(ids[0], copy_options, database_url)
            print(f"a lone copy, created to completed with 1 idle worker: {latency * 1000:.0f} ms")
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)


if __name__ == "__main__":
    main()
