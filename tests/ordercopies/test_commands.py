import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO

import pytest
from django.core.management import CommandError, call_command, load_command_class
from django_tasks_db.models import DBTaskResult

from ordercopies import selectors, services
from ordercopies.exceptions import CopyNotRetryable
from ordercopies.models import OrderCopy
from ordercopies.progress import CopiesOutcome, ExitStatus, outcome_exit_status
from orders.models import Order
from tests import factories

NOBODY = 65534


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
    ids = [c.pk for c in copies.order_by("created_at", "id")]
    assert f"Created 2 order copies: {', '.join(ids)}." in out
    assert "2 order copies: 2 completed." in out


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
    assert "Dry run: 1 order would be copied, 1 with problems already visible." in out
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


def test_copy_orders_fails_with_a_summary_naming_the_failed_copies(make_order):
    order, fine = make_order(place=True), make_order(place=True)
    line = order.line_items.filter(item_type="skus").first()
    line.sku.stock_quantity = 0
    line.sku.save()
    out = StringIO()

    with pytest.raises(CommandError, match=r"failed or aborted: 1 of 2 order copies$") as failure:
        call_command("copy_orders", "--order", order.pk, "--order", fine.pk, "--sync", stdout=out)

    assert failure.value.returncode == 2
    failed = OrderCopy.objects.get(source_order=order)
    assert failed.status == "failed"
    assert OrderCopy.objects.get(source_order=fine).status == "completed"
    text = out.getvalue()
    assert "2 order copies: 1 completed, 1 failed." in text
    assert (
        f"Failed or aborted:\n  {failed.pk} failed, order #{order.number} ({order.pk}): "
        f"line_items: SKU {line.sku.code} is out of stock\n"
    ) in text
    assert f"1 × line_items: SKU {line.sku.code} is out of stock" in text


def _out_of_stock(order: Order) -> str:
    sku = order.line_items.filter(item_type="skus").first().sku
    sku.stock_quantity = 0
    sku.save()
    return sku.code


def _json(*args: str) -> tuple[dict, int]:
    """The command's stdout as one JSON document, and its exit status."""
    out = StringIO()
    try:
        call_command(*args, "--json", stdout=out, stderr=StringIO())
        status = 0
    except CommandError as error:
        status = error.returncode
    return json.loads(out.getvalue()), status


def test_copy_orders_json_is_one_document_with_every_copy_and_the_exit_status(make_order):
    order, fine = make_order(place=True), make_order(place=True)
    sku_code = _out_of_stock(order)

    document, status = _json("copy_orders", "--order", order.pk, "--order", fine.pk, "--sync")

    failed = OrderCopy.objects.get(source_order=order)
    completed = OrderCopy.objects.get(source_order=fine)
    assert status == document["exit_status"] == 2
    assert document["created"] == [failed.pk, completed.pk]
    assert document["failed"] == [failed.pk]
    assert document["counts"] == {"completed": 1, "failed": 1}
    assert (document["followed"], document["timed_out"], document["dry_run"]) == (
        True,
        False,
        False,
    )
    assert document["copies"][0] == {
        "id": failed.pk,
        "status": "failed",
        "source_order": order.pk,
        "source_order_number": order.number,
        "target_order": None,
        "errors": {"line_items": [f"SKU {sku_code} is out of stock"]},
    }
    assert document["copies"][1]["target_order"] == completed.target_order_id


def test_copy_orders_json_without_waiting_reports_the_queued_copies(make_order):
    order = make_order(place=True)

    document, status = _json("copy_orders", "--order", order.pk)

    copy = OrderCopy.objects.get()
    assert status == document["exit_status"] == 0
    assert document["created"] == [copy.pk]
    assert document["counts"] == {"pending": 1}
    assert document["followed"] is False


def test_copy_orders_json_dry_run_lists_the_problems_and_changes_nothing(make_order):
    order = make_order(place=True)
    sku_code = _out_of_stock(order)

    document, status = _json("copy_orders", "--order", order.pk, "--dry-run")

    assert status == 0
    assert document["dry_run"] is True
    (entry,) = document["orders"]
    plan = entry.pop("plan")
    assert entry == {
        "id": order.pk,
        "number": order.number,
        "status": "placed",
        "market": "eu",
        "problems": [f"SKU {sku_code} is out of stock"],
    }
    assert (plan["status"], plan["errors_log"]) == (
        "failed",
        {"line_items": [f"SKU {sku_code} is out of stock"]},
    )
    assert not OrderCopy.objects.exists()


def test_copy_orders_says_queued_with_the_ids_and_exits_0(make_order):
    order = make_order(place=True)

    out = run("copy_orders", "--order", order.pk)

    copy = OrderCopy.objects.get()
    assert f"Created 1 order copy: {copy.pk}." in out
    assert "Queued: db_worker runs them." in out
    assert copy.status == "pending"


def test_copy_orders_wait_exits_3_when_the_timeout_passes(make_order):
    order = make_order(place=True)
    out = StringIO()

    with pytest.raises(CommandError, match="stopped waiting at --timeout") as stop:
        call_command("copy_orders", "--order", order.pk, "--wait", "--timeout", "0.01", stdout=out)

    assert stop.value.returncode == 3
    assert "1 order copy still pending or in progress" in str(stop.value)
    assert "1 order copy: 1 pending." in out.getvalue()  # no worker ran it here
    assert OrderCopy.objects.get().status == "pending"


@pytest.mark.parametrize("timeout", ["0", "-5"])
def test_copy_orders_refuses_a_timeout_that_is_not_positive(make_order, timeout):
    order = make_order(place=True)
    with pytest.raises(CommandError, match="--timeout must be a positive number") as refusal:
        run("copy_orders", "--order", order.pk, "--wait", "--timeout", timeout)
    assert refusal.value.returncode == 1
    assert not OrderCopy.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "choose the orders"),
        (("--order", "nope123456"), "no test order has the id: nope123456"),
        (("--from-file", "/does/not/exist"), "--from-file: /does/not/exist does not exist"),
        (("--placed-after", "2026-13-45"), "is not a date"),
        (("--placed-after", "yesterday"), "is not a date"),
        (("--placed-after", "2026-02-01", "--placed-before", "2026-01-01"), "must be earlier"),
        (("--status", "placed", "--market", "nowhere"), "no order matches"),
    ],
)
def test_copy_orders_refuses_bad_input_and_changes_nothing(make_order, args, message):
    make_order(place=True)
    with pytest.raises(CommandError, match=message) as refusal:
        run("copy_orders", *args)
    assert refusal.value.returncode == 1
    assert OrderCopy.objects.count() == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "contains no order ids"),
        (b"\n  \n", "contains no order ids"),
        (b"# ids of batch 42\n", "contains no order ids"),
        (b"number,id\n", "contains no order ids"),
        (b"number,email\n1,a@example.com\n", "is a CSV without an 'id' column: number,email"),
        (b"number,id\n1,AbCdEfGhIj\n2,\n", "has no id in CSV row 3"),
        (b"\xff\xfeA\x00b\x00", "is not a UTF-8 text file"),
    ],
    ids=["empty", "blank", "comments", "csv-header-only", "csv-no-id", "csv-empty-id", "utf-16"],
)
def test_copy_orders_says_what_is_wrong_with_the_file(tmp_path, make_order, content, message):
    make_order(place=True)
    bad = tmp_path / "ids.txt"
    bad.write_bytes(content)
    with pytest.raises(CommandError, match=f"^--from-file: {bad} {message}"):
        run("copy_orders", "--from-file", str(bad))
    assert not OrderCopy.objects.exists()


def test_copy_orders_says_a_directory_is_a_directory(tmp_path, make_order):
    with pytest.raises(CommandError, match=f"^--from-file: {tmp_path} is a directory"):
        run("copy_orders", "--from-file", str(tmp_path))


@contextmanager
def _unprivileged() -> Iterator[None]:
    """As root every file is readable: become nobody for the duration."""
    if os.geteuid() != 0:
        yield
        return
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)


def test_copy_orders_says_an_unreadable_file_cannot_be_read(tmp_path, make_order):
    tmp_path.chmod(0o755)
    secret = tmp_path / "ids.txt"
    secret.write_text(f"{make_order(place=True).pk}\n")
    secret.chmod(0o000)
    with _unprivileged(), pytest.raises(CommandError) as refusal:
        run("copy_orders", "--from-file", str(secret))
    assert str(refusal.value) == f"--from-file: cannot read {secret}: Permission denied"
    assert not OrderCopy.objects.exists()


def test_copy_orders_reads_a_csv_of_one_id_column(tmp_path, make_order):
    order = make_order(place=True)
    ids = tmp_path / "ids.csv"
    ids.write_text(f"id\n{order.pk}\n")
    run("copy_orders", "--from-file", str(ids))
    assert OrderCopy.objects.get().source_order_id == order.pk


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

    assert f"Retried 1 order copy: {copy.pk}; 0 refused." in out
    copy.refresh_from_db()
    assert copy.status == "pending"
    services.order_copy_execute(order_copy_id=copy.pk)
    copy.refresh_from_db()
    assert copy.status == "completed"
    assert copy.attempts == 2


def test_retry_order_copies_dry_run_lists_and_changes_nothing(make_order):
    copy, order = _failed_copy(make_order)
    out = run("retry_order_copies", "--dry-run")
    assert f"{copy.pk} (failed) of order #{order.number} ({order.pk}): would be retried" in out
    assert "out of stock" in out
    assert "Dry run: 1 order copy would be retried, 0 refused. Nothing was changed." in out
    copy.refresh_from_db()
    assert copy.status == "failed"


def _completed_copy(make_order) -> OrderCopy:
    completed = services.order_copy_create(source_order=make_order(), mode="test")
    return services.order_copy_execute(order_copy_id=completed.pk)


def test_retry_order_copies_dry_run_refuses_what_the_real_run_refuses(make_order):
    failed, _ = _failed_copy(make_order)
    completed = _completed_copy(make_order)
    chosen = ("--order-copy", failed.pk, "--order-copy", completed.pk)
    refusal = "only failed or aborted copies can be retried; this one is completed"

    preview = run("retry_order_copies", *chosen, "--dry-run")

    assert f"{completed.pk} (completed)" in preview
    assert f"would be refused: {refusal}" in preview
    assert preview.count(": would be retried") == 1  # the failed one only
    assert "1 order copy would be retried, 1 refused." in preview
    out = StringIO()
    with pytest.raises(CommandError, match="1 order copy refused") as refused:
        call_command("retry_order_copies", *chosen, stdout=out)
    assert refused.value.returncode == 4
    assert f"Retried 1 order copy: {failed.pk}; 1 refused." in out.getvalue()
    assert f"refused {completed.pk}: {refusal}" in out.getvalue()


def _copy_in(status: str, make_order) -> OrderCopy:
    if status == "failed":
        return _failed_copy(make_order)[0]
    if status == "completed":
        return _completed_copy(make_order)
    copy = services.order_copy_create(source_order=make_order(), mode="test")
    if status == "in_progress":
        return services.order_copy_claim(order_copy_id=copy.pk)
    if status == "aborted":
        return services.order_copy_abort(order_copy=copy)
    return copy


@pytest.mark.parametrize("status", OrderCopy.Status.values)
def test_the_retry_preview_agrees_with_the_retry_service(make_order, status):
    copy = _copy_in(status, make_order)
    assert copy.status == status

    preview = selectors.order_copy_trigger_refusal(order_copy=copy, trigger="retry")

    try:
        services.order_copy_retry(order_copy=copy)
        verdict = None
    except CopyNotRetryable as refusal:
        verdict = refusal.message
    assert preview == verdict
    assert (verdict is None) is (status in ("failed", "aborted"))


def test_retry_order_copies_lists_the_status_choices_by_value(make_order):
    with pytest.raises(CommandError) as refusal:
        run("retry_order_copies", "--status", "completed")
    assert "invalid choice: 'completed' (choose from 'failed', 'aborted')" in str(refusal.value)
    assert "OrderCopy.Status" not in str(refusal.value)


def test_retry_order_copies_sync_exits_2_when_every_copy_failed_again(make_order):
    copy, order = _failed_copy(make_order)
    _out_of_stock(order)
    out = StringIO()

    with pytest.raises(CommandError, match="failed or aborted: 1 of 1 order copy") as failure:
        call_command("retry_order_copies", "--sync", stdout=out)

    assert failure.value.returncode == 2
    copy.refresh_from_db()
    assert (copy.status, copy.attempts) == ("failed", 2)
    assert f"  {copy.pk} failed, order #{order.number}" in out.getvalue()


def test_retry_order_copies_sync_exits_0_when_every_copy_completed(make_order):
    copy, _ = _failed_copy(make_order)

    out = run("retry_order_copies", "--sync")

    copy.refresh_from_db()
    assert copy.status == "completed"
    assert "1 order copy: 1 completed." in out


def test_retry_order_copies_json_lists_retried_and_refused_and_exits_4(make_order):
    failed, _ = _failed_copy(make_order)
    completed = _completed_copy(make_order)

    document, status = _json(
        "retry_order_copies", "--order-copy", failed.pk, "--order-copy", completed.pk
    )

    assert status == document["exit_status"] == 4
    assert document["retried"] == [failed.pk]
    assert document["refused"] == [
        {
            "id": completed.pk,
            "status": "completed",
            "reason": "only failed or aborted copies can be retried; this one is completed",
        }
    ]
    assert document["counts"] == {"pending": 1}


def test_retry_order_copies_json_dry_run(make_order):
    failed, _ = _failed_copy(make_order)

    document, status = _json("retry_order_copies", "--dry-run")

    assert status == 0
    assert [copy["id"] for copy in document["would_retry"]] == [failed.pk]
    assert document["would_refuse"] == []
    failed.refresh_from_db()
    assert failed.status == "failed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--order-copy", "missing123"), "no test order copy has the id: missing123"),
        (("--since", "not-a-date"), "is not a date"),
        (("--order-copy", "AbCdEfGhIj", "--status", "failed"), "leave out --status and --since"),
        (("--timeout", "0"), "--timeout must be a positive number"),
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
    assert "Retried 0 order copies; 0 refused." in out
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
    assert "lost 1 time;" in copy.errors_log["base"][0]


@pytest.mark.parametrize("name", ["copy_orders", "retry_order_copies"])
def test_help_describes_every_flag_its_default_and_the_exit_statuses(name):
    parser = load_command_class("ordercopies", name).create_parser("manage.py", name)

    for action in parser._actions:
        assert action.help, f"{action.option_strings} has no help"
        has_default = action.default not in (None, False, True, [], "==SUPPRESS==")
        if has_default and action.dest not in ("verbosity",):
            assert "%(default)" in action.help or "default" in action.help, action.dest
    text = " ".join(parser.format_help().split())
    assert "By default the copies are queued" in text or "By default the retried" in text
    assert "test mode unless --mode live" in text
    for status in ("1 bad input", "2 at least one copy ended failed", "3 --timeout passed"):
        assert status in text
    assert ("4 at least one chosen copy was refused" in text) is (name == "retry_order_copies")


def test_the_outcome_of_a_batch_is_read_in_one_query(make_order, django_assert_num_queries):
    copies = services.order_copy_create_many(
        source_orders=[make_order(), make_order(), make_order()], mode="test"
    )
    ids = [copy.pk for copy in copies]

    with django_assert_num_queries(1):
        outcome = CopiesOutcome.read(ids=ids)
        text = outcome.summary()

    assert [copy["id"] for copy in outcome.copies] == ids
    assert text == "3 order copies: 3 pending."


def test_retry_dry_run_makes_the_same_queries_for_one_copy_as_for_three(
    make_order, django_assert_num_queries
):
    _failed_copy(make_order)
    with django_assert_num_queries(1):
        run("retry_order_copies", "--dry-run")
    _failed_copy(make_order)
    _failed_copy(make_order)
    with django_assert_num_queries(1):
        out = run("retry_order_copies", "--dry-run")
    assert "3 order copies would be retried, 0 refused." in out


def test_an_aborted_copy_counts_as_failed_and_failures_come_before_a_timeout(make_order):
    pending = services.order_copy_create(source_order=make_order(), mode="test")
    aborted = services.order_copy_abort(
        order_copy=services.order_copy_create(source_order=make_order(), mode="test")
    )
    both = CopiesOutcome.read(ids=[pending.pk, aborted.pk])
    only_pending = CopiesOutcome.read(ids=[pending.pk])

    assert [copy["id"] for copy in both.unsuccessful] == [aborted.pk]
    assert outcome_exit_status(outcome=both, timed_out=True, refused=1) == 2
    assert outcome_exit_status(outcome=only_pending, timed_out=True, refused=1) == 3
    assert outcome_exit_status(outcome=only_pending, refused=1) == ExitStatus.REFUSED == 4
    assert outcome_exit_status(outcome=None, refused=0) == ExitStatus.OK == 0
    assert "Failed or aborted:\n  " + aborted.pk + " aborted" in both.summary()
