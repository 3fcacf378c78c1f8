from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_tasks_db.models import DBTaskResult

from ordercopies import services
from ordercopies.models import OrderCopy
from orders.models import Order
from tests import factories


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_copy_orders_sync_copies_the_chosen_orders_with_the_options(make_order):
    first, second = make_order(place=True), make_order(place=True)
    make_order(place=True)  # not chosen

    out = run(
        "copy_orders",
        "--order",
        first.pk,
        "--order",
        second.pk,
        "--place-target-order",
        "--reference",
        "batch-7",
        "--sync",
    )

    copies = OrderCopy.objects.all()
    assert {c.source_order_id for c in copies} == {first.pk, second.pk}
    assert {c.status for c in copies} == {"completed"}
    assert {c.reference for c in copies} == {"batch-7"}
    assert {c.target_order.status for c in copies} == {"placed"}
    assert "2 copies: 2 completed" in out


def test_copy_orders_by_filters_and_from_a_csv_file(tmp_path, make_order):
    placed = make_order(place=True)
    pending = make_order()
    csv_file = tmp_path / "orders.csv"
    csv_file.write_text(f"number,id\n{pending.number},{pending.pk}\n")

    run("copy_orders", "--status", "placed")
    run("copy_orders", "--from-file", str(csv_file))

    assert sorted(OrderCopy.objects.values_list("source_order_id", flat=True)) == sorted(
        [placed.pk, pending.pk]
    )
    assert DBTaskResult.objects.filter(task_path__endswith="order_copy_execute_task").count() == 2


def test_copy_orders_reads_one_id_a_line(tmp_path, make_order):
    orders = [make_order(), make_order()]
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("".join(f"{o.pk}\n" for o in orders) + "\n")

    run("copy_orders", "--from-file", str(ids_file))

    assert OrderCopy.objects.count() == 2


def test_copy_orders_dry_run_shows_visible_problems_and_changes_nothing(make_order, make_sku):
    order = make_order(place=True)
    line = order.line_items.filter(item_type="skus").first()
    line.sku.stock_quantity = 0
    line.sku.save()

    out = run("copy_orders", "--order", order.pk, "--dry-run")

    assert f"SKU {line.sku.code} is out of stock" in out
    assert "1 orders would be copied, 1 with problems" in out
    assert OrderCopy.objects.count() == 0
    assert not DBTaskResult.objects.exists()


def test_copy_orders_dry_run_sees_invalid_coupons_and_foreign_payment_sources(market, make_order):
    coupon = factories.CouponFactory(promotion__market=market, usage_limit=1)
    order = make_order(coupon_code=coupon.code, payment_source=factories.PaymentSourceFactory())
    coupon.usage_count = 1
    coupon.save()

    out = run("copy_orders", "--order", order.pk, "--dry-run")

    assert f"coupon {coupon.code} has been used up" in out
    assert "not in the customer's wallet" in out
    out = run(
        "copy_orders",
        "--order",
        order.pk,
        "--dry-run",
        "--ignore-invalid-coupon",
        "--no-reuse-wallet",
    )
    assert "0 with problems" in out


def test_copy_orders_waits_and_fails_with_a_summary_when_copies_fail(make_order):
    order = make_order(place=True)
    line = order.line_items.filter(item_type="skus").first()
    line.sku.stock_quantity = 0
    line.sku.save()
    out = StringIO()

    with pytest.raises(CommandError, match="1 of 1 copies failed") as failure:
        call_command("copy_orders", "--order", order.pk, "--sync", stdout=out, stderr=StringIO())

    assert failure.value.returncode == 2
    assert f"line_items: SKU {line.sku.code} is out of stock" in out.getvalue()
    assert OrderCopy.objects.get().status == "failed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "choose the orders"),
        (("--order", "nope123456"), "no test order has the id: nope123456"),
        (("--from-file", "/does/not/exist"), "does not exist"),
        (("--placed-after", "2026-13-45"), "is not a date"),
        (("--placed-after", "yesterday"), "is not a date"),
        (("--placed-after", "2026-02-01", "--placed-before", "2026-01-01"), "must be earlier"),
        (("--status", "placed", "--market", "nowhere"), "no order matches"),
    ],
)
def test_copy_orders_refuses_bad_input_and_changes_nothing(make_order, args, message):
    make_order(place=True)
    with pytest.raises(CommandError, match=message):
        run("copy_orders", *args)
    assert OrderCopy.objects.count() == 0


def test_copy_orders_refuses_a_csv_without_id_column(tmp_path, make_order):
    bad = tmp_path / "bad.csv"
    bad.write_text("number,email\n1,a@example.com\n")
    with pytest.raises(CommandError, match="without an 'id' column"):
        run("copy_orders", "--from-file", str(bad))


def test_copy_orders_does_not_see_orders_of_the_other_mode(make_order):
    order = make_order(place=True)
    with pytest.raises(CommandError, match="no live order has the id"):
        run("copy_orders", "--order", order.pk, "--mode", "live")


def _failed_copy(make_order) -> tuple[OrderCopy, Order]:
    order = make_order(place=True)
    sku = order.line_items.filter(item_type="skus").first().sku
    sku.stock_quantity = 0
    sku.save()
    copy = services.order_copy_create(source_order=order, mode="test")
    services.order_copy_execute(order_copy_id=copy.pk)
    sku.stock_quantity = 100
    sku.save()
    return OrderCopy.objects.get(pk=copy.pk), order


def test_retry_order_copies_retries_failed_copies(make_order):
    copy, _ = _failed_copy(make_order)
    completed = services.order_copy_create(source_order=make_order(), mode="test")
    services.order_copy_execute(order_copy_id=completed.pk)

    out = run("retry_order_copies", "--status", "failed")

    assert "Retried 1 copies; 0 refused." in out
    copy.refresh_from_db()
    assert copy.status == "pending"
    services.order_copy_execute(order_copy_id=copy.pk)
    copy.refresh_from_db()
    assert copy.status == "completed"
    assert copy.attempts == 2


def test_retry_order_copies_dry_run_lists_and_changes_nothing(make_order):
    copy, _ = _failed_copy(make_order)
    out = run("retry_order_copies", "--dry-run")
    assert copy.pk in out and "out of stock" in out
    copy.refresh_from_db()
    assert copy.status == "failed"


def test_retry_order_copies_reports_refusals_by_id(make_order):
    completed = services.order_copy_create(source_order=make_order(), mode="test")
    services.order_copy_execute(order_copy_id=completed.pk)

    out = run("retry_order_copies", "--order-copy", completed.pk)

    assert f"refused {completed.pk}: only failed or aborted copies can be retried" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--order-copy", "missing123"), "no test order copy has the id: missing123"),
        (("--since", "not-a-date"), "is not a date"),
    ],
)
def test_retry_order_copies_refuses_bad_input(make_order, args, message):
    copy, _ = _failed_copy(make_order)
    with pytest.raises(CommandError, match=message):
        run("retry_order_copies", *args)
    copy.refresh_from_db()
    assert copy.status == "failed"


def test_retry_order_copies_since_leaves_older_copies(make_order):
    copy, _ = _failed_copy(make_order)
    out = run("retry_order_copies", "--since", "2999-01-01")
    assert "Retried 0 copies" in out
    copy.refresh_from_db()
    assert copy.status == "failed"


def test_recover_order_copies_requeues_a_lost_copy(make_order):
    copy = services.order_copy_create(source_order=make_order(), mode="test")
    services.order_copy_claim(order_copy_id=copy.pk)  # claimed, then its worker "died"

    out = run("recover_order_copies")

    assert f"requeued: {copy.pk}" in out
    assert "1 queued again, 0 aborted" in out
    copy.refresh_from_db()
    assert copy.status == "pending"


def test_recover_order_copies_aborts_after_max_attempts(make_order):
    copy = services.order_copy_create(source_order=make_order(), mode="test")
    services.order_copy_claim(order_copy_id=copy.pk)

    out = run("recover_order_copies", "--max-attempts", "1")

    assert "0 queued again, 1 aborted" in out
    copy.refresh_from_db()
    assert copy.status == "aborted"
    assert "lost 1 times" in copy.errors_log["base"][0]
