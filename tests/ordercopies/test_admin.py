"""The order copies console: pages, triggers by POST (every refusal, forged POSTs), copying from
the order pages. The same in a real browser: tests/browser/."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from events.models import Event
from health.models import ProcessPresence
from ordercopies import services
from ordercopies.admin.dashboard import NO_WORKER
from ordercopies.models import OrderCopy
from orders.models import Order, PaymentMethod, Sku
from tests import factories
from tests.health.conftest import worker_presence

CHANGELIST = reverse("admin:ordercopies_ordercopy_changelist")
ORDERS = reverse("admin:orders_order_changelist")
EXECUTE_TASK = "ordercopies.tasks.order_copy_execute_task"
TRIGGER_PERMISSIONS = [
    "ordercopies.launch_ordercopy",
    "ordercopies.retry_ordercopy",
    "ordercopies.abort_ordercopy",
]
VIEW = ["orders.view_order", "ordercopies.view_ordercopy"]


def change_url(order_copy: OrderCopy) -> str:
    return reverse("admin:ordercopies_ordercopy_change", args=[order_copy.pk])


def copy_url(order: Order) -> str:
    return reverse("admin:orders_order_copy", args=[order.pk])


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def fresh(order_copy: OrderCopy) -> OrderCopy:
    return OrderCopy.objects.get(pk=order_copy.pk)


def trigger(
    client: Client, action: str, *copies: OrderCopy, confirm: bool = True, follow: bool = True
) -> Any:
    """POST an action on the copies list, confirmed (post=yes) or not (its first step)."""
    data = {"action": action, "_selected_action": [c.pk for c in copies]}
    if confirm:
        data["post"] = "yes"
    return client.post(CHANGELIST, data, follow=confirm and follow)


def jobs_of(order_copy: OrderCopy) -> int:
    """The jobs that carry the copy (a job carries a batch of copy ids)."""
    jobs = DBTaskResult.objects.filter(task_path=EXECUTE_TASK)
    return sum(order_copy.pk in args for args in jobs.values_list("args_kwargs__args", flat=True))


def action_names(response: Any) -> set[str]:
    form = response.context.get("action_form")
    if form is None:
        return set()
    return {name for name, _ in form.fields["action"].choices if name}


@pytest.fixture
def staff(db: None) -> Callable[..., Client]:
    """A client logged in as a staff user (not a superuser) with the given "app.codename"
    permissions."""

    def make(*perms: str) -> Client:
        user = User.objects.create_user(username="staff", password="staff", is_staff=True)
        for perm in perms:
            app_label, codename = perm.split(".")
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def make_copy(make_order: Callable[..., Order]) -> Callable[..., OrderCopy]:
    """A copy in `status`, made through the services. A failed copy failed because its source's
    first SKU is out of stock."""

    def make(status: str = "pending", source: Order | None = None, **options: Any) -> OrderCopy:
        source = source or make_order()
        order_copy = services.order_copy_create(source_order=source, mode=source.mode, **options)
        if status == "failed":
            Sku.objects.filter(pk=source.line_items.first().sku_id).update(stock_quantity=0)
        if status in ("completed", "failed"):
            services.order_copy_execute(order_copy_id=order_copy.pk)
        elif status == "aborted":
            services.order_copy_abort(order_copy=order_copy)
        elif status == "in_progress":
            services.order_copy_claim(order_copy_id=order_copy.pk)
        order_copy = OrderCopy.objects.select_related("source_order", "target_order").get(
            pk=order_copy.pk
        )
        assert order_copy.status == status
        return order_copy

    return make


# The copies list -----------------------------------------------------------------------------


def failed_first_error(order_copy: OrderCopy) -> str:
    return next(iter(fresh(order_copy).errors_log.values()))[0]


def test_changelist_shows_status_orders_first_error_attempts_and_age(admin_client, make_copy):
    completed = make_copy("completed", place_target_order=True)
    failed = make_copy("failed", skip_errors=False)
    response = admin_client.get(CHANGELIST)
    text = response.text
    assert 'class="copy-status copy-status-completed"' in text
    assert 'class="copy-status copy-status-failed"' in text
    target_url = reverse("admin:orders_order_change", args=[completed.target_order_id])
    assert f'<a href="{target_url}">#{completed.target_order.number}</a>' in text
    source_url = reverse("admin:orders_order_change", args=[failed.source_order_id])
    assert f'<a href="{source_url}">#{failed.source_order.number}</a>' in text
    assert '<td class="field-first_error">' + failed_first_error(failed) + "</td>" in text
    assert '<td class="field-attempts">1</td>' in text
    assert "0\xa0minutes ago" in text


def test_changelist_counts_copies_by_status(admin_client, make_copy):
    make_copy("failed")
    make_copy("failed")
    make_copy("pending")
    response = admin_client.get(CHANGELIST)
    counts = {url.split("=")[-1]: n for _, n, url in response.context["status_counts"]}
    assert counts == {"pending": 1, "in_progress": 0, "completed": 0, "failed": 2, "aborted": 0}
    assert f'href="{CHANGELIST}?status__exact=failed"' in response.text


def results(client: Client, query: str) -> set[str]:
    response = client.get(CHANGELIST + query)
    assert response.status_code == 200
    return {order_copy.pk for order_copy in response.context["cl"].result_list}


def test_changelist_filters_by_status_mode_options_and_date(admin_client, make_copy, make_order):
    failed = make_copy("failed")
    placing = make_copy("pending", place_target_order=True, skip_errors=True)
    live = make_copy("pending", source=make_order())
    OrderCopy.objects.filter(pk=live.pk).update(mode="live")
    OrderCopy.objects.filter(pk=failed.pk).update(created_at=timezone.now() - timedelta(days=40))
    assert results(admin_client, "?status__exact=failed") == {failed.pk}
    assert results(admin_client, "?mode__exact=live") == {live.pk}
    assert results(admin_client, "?place_target_order__exact=1&skip_errors__exact=1") == {
        placing.pk
    }
    since = urlencode({"created_at__gte": timezone.now() - timedelta(days=7)})
    assert results(admin_client, f"?{since}") == {placing.pk, live.pk}


def test_changelist_searches_by_id_source_order_number_and_reference(admin_client, make_copy):
    first = make_copy("pending")
    second = make_copy("pending")
    OrderCopy.objects.filter(pk=second.pk).update(reference="ticket-4242")
    assert results(admin_client, f"?q={first.pk}") == {first.pk}
    assert results(admin_client, f"?q={second.source_order.number}") == {second.pk}
    assert results(admin_client, "?q=4242") == {second.pk}


@pytest.mark.parametrize("count", [3, 20])
def test_changelist_queries_do_not_grow_with_copies(
    admin_client, make_copy, django_assert_num_queries, count
):
    statuses = ["completed", "failed", "pending", "aborted"]
    for n in range(count):
        make_copy(statuses[n % len(statuses)])
    # session, user, status counts, live workers, two counts, the copies with their orders
    with django_assert_num_queries(7):
        response = admin_client.get(CHANGELIST)
    assert response.context["cl"].result_count == count


# A copy's page -------------------------------------------------------------------------------


def test_change_page_shows_the_errors_the_timeline_of_each_attempt_and_both_orders(
    admin_client, make_copy
):
    failed = make_copy("failed")
    sku = Sku.objects.get(pk=failed.source_order.line_items.first().sku_id)
    services.order_copy_retry(order_copy=failed)
    services.order_copy_execute(order_copy_id=failed.pk)  # fails again: attempt 2
    Sku.objects.filter(pk=sku.pk).update(stock_quantity=50)
    services.order_copy_retry(order_copy=failed)
    completed = services.order_copy_execute(order_copy_id=failed.pk)
    assert completed is not None and completed.status == "completed"

    text = admin_client.get(change_url(failed)).text
    out_of_stock = f'<li title="line items (stock, SKUs)">SKU {sku.code} is out of stock</li>'
    assert text.count(out_of_stock) == 4  # each failed attempt, and each retry's previous errors
    for name in ["create", "start", "fail", "retry", "complete"]:
        assert f'<tr class="event-order_copies-{name}" title="order_copies.{name}">' in text
    assert "<td>3</td>" in text  # the third attempt
    target = Order.objects.get(pk=completed.target_order_id)
    assert f">#{target.number}</a>" in text
    assert f">#{failed.source_order.number}</a>" in text


def test_change_page_of_a_failed_copy_lists_its_errors(admin_client, make_copy):
    failed = make_copy("failed")
    sku_code = failed.errors_log["line_items"][0].split()[1]
    text = admin_client.get(change_url(failed)).text
    assert (
        f'<ul class="copy-errors"><li title="line items (stock, SKUs)">SKU {sku_code} is out of '
        "stock" in text
    )


def test_change_page_edits_nothing(admin_client, make_copy):
    order_copy = make_copy("failed")
    response = admin_client.get(change_url(order_copy))
    assert response.context["adminform"].form.fields == {}
    assert not response.context["has_change_permission"]
    assert 'name="_save"' not in response.text
    data = {"status": "completed", "errors_count": "0", "attempts": "9", "_save": "Save"}
    assert admin_client.post(change_url(order_copy), data).status_code == 403
    again = fresh(order_copy)
    assert (again.status, again.errors_count, again.attempts) == ("failed", 1, 1)


def test_copies_are_not_added_in_the_admin(admin_client, make_copy):
    assert admin_client.get(reverse("admin:ordercopies_ordercopy_add")).status_code == 403
    assert reverse("admin:ordercopies_ordercopy_add") not in admin_client.get(CHANGELIST).text


def test_deleting_a_copy_goes_through_the_service(admin_client, make_copy):
    order_copy = make_copy("failed")
    url = reverse("admin:ordercopies_ordercopy_delete", args=[order_copy.pk])
    admin_client.post(url, {"post": "yes"}, follow=True)
    assert not OrderCopy.objects.filter(pk=order_copy.pk).exists()
    assert Event.objects.filter(name="order_copies.destroy", resource_id=order_copy.pk).exists()


def test_a_running_copy_cannot_be_deleted(admin_client, make_copy):
    running = make_copy("in_progress")
    url = reverse("admin:ordercopies_ordercopy_delete", args=[running.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    refused = trigger(admin_client, "delete_selected", running)
    assert messages_of(refused) == [
        "No copy was deleted; 1 refused.",
        f"Copy {running.pk} of order #{running.source_order.number} was not deleted: "
        "a copy in progress cannot be deleted; wait for it to end",
    ]
    assert fresh(running).status == "in_progress"


def test_deleting_copies_asks_first_then_deletes_each_through_the_service(admin_client, make_copy):
    failed, completed = make_copy("failed"), make_copy("completed")
    page = trigger(admin_client, "delete_selected", failed, completed, confirm=False)
    assert "Delete 2 order copies?" in page.content.decode()
    assert OrderCopy.objects.count() == 2
    done = trigger(admin_client, "delete_selected", failed, completed)
    assert messages_of(done) == ["Deleted 2 copies."]
    assert OrderCopy.objects.count() == 0
    assert LogEntry.objects.filter(action_flag=DELETION).count() == 2


@pytest.mark.parametrize(
    ("status", "buttons"),
    [
        ("pending", ["launch_copies", "abort_copies"]),
        ("failed", ["retry_copies"]),
        ("aborted", ["retry_copies"]),
        ("in_progress", []),
        ("completed", []),
    ],
)
def test_change_page_offers_the_triggers_its_status_accepts(
    admin_client, make_copy, status, buttons
):
    response = admin_client.get(change_url(make_copy(status)))
    assert [name for name, *_ in response.context["copy_buttons"]] == buttons
    for name in buttons:
        assert f'name="CHANGE_FORM-action" value="{name}"' in response.text


# Triggers: confirmation, success and every refusal -------------------------------------------


def test_bulk_retry_first_shows_what_will_happen_and_changes_nothing(admin_client, make_copy):
    failed, completed = make_copy("failed"), make_copy("completed")
    response = trigger(admin_client, "retry_copies", failed, completed, confirm=False)
    assert response.status_code == 200
    assert response.templates[0].name == "admin/ordercopies/ordercopy/trigger_confirmation.html"
    text = response.text
    assert "1 of the 2 selected copies will be retried" in text
    assert "retried: it goes back to pending and runs" in text
    assert "refused: only failed or aborted copies can be retried; this one is completed" in text
    assert 'value="Yes, retry 1 copy"' in text
    assert 'name="post" value="yes"' in text
    assert (fresh(failed).status, fresh(completed).status) == ("failed", "completed")
    assert not Event.objects.filter(name="order_copies.retry").exists()


def test_confirmation_offers_no_button_when_every_copy_would_be_refused(admin_client, make_copy):
    response = trigger(admin_client, "abort_copies", make_copy("completed"), confirm=False)
    assert "None of the selected copies can be aborted." in response.text
    assert 'value="Yes,' not in response.text


def test_retry_retries_failed_and_aborted_copies_and_reports_each_refusal(
    admin_client, admin_user, make_copy
):
    failed, aborted = make_copy("failed"), make_copy("aborted")
    pending, running, completed = (make_copy(s) for s in ("pending", "in_progress", "completed"))
    response = trigger(admin_client, "retry_copies", failed, aborted, pending, running, completed)
    rule = "only failed or aborted copies can be retried; this one is"
    assert messages_of(response) == [
        f"Retried 2 copies ({NO_WORKER}); 3 refused.",
        f"Copy {pending.pk} of order #{pending.source_order.number} was not retried: "
        f"{rule} pending",
        f"Copy {running.pk} of order #{running.source_order.number} was not retried: "
        f"{rule} in_progress",
        f"Copy {completed.pk} of order #{completed.source_order.number} was not retried: "
        f"{rule} completed",
    ]
    assert (fresh(failed).status, fresh(aborted).status) == ("pending", "pending")
    statuses = [fresh(c).status for c in (pending, running, completed)]
    assert statuses == ["pending", "in_progress", "completed"]
    event = Event.objects.get(name="order_copies.retry", resource_id=failed.pk)
    assert (event.actor_kind, event.actor_id) == ("user", str(admin_user.pk))
    assert event.payload["previous_errors"] == failed.errors_log
    assert jobs_of(failed) == 2


def test_launch_queues_pending_copies_again_and_refuses_the_others(admin_client, make_copy):
    pending = make_copy("pending")
    failed, completed = make_copy("failed"), make_copy("completed")
    assert jobs_of(pending) == 1
    response = trigger(admin_client, "launch_copies", pending, failed, completed)
    rule = "only pending copies can be launched; this one is"
    assert messages_of(response) == [
        f"Launched 1 copy ({NO_WORKER}); 2 refused.",
        f"Copy {failed.pk} of order #{failed.source_order.number} was not launched: {rule} failed",
        f"Copy {completed.pk} of order #{completed.source_order.number} was not launched: "
        f"{rule} completed",
    ]
    assert jobs_of(pending) == 2
    assert Event.objects.filter(name="order_copies.launch", resource_id=pending.pk).count() == 1
    assert (jobs_of(failed), jobs_of(completed)) == (1, 1)
    # Two jobs, one run: the second finds the copy no longer pending.
    assert services.order_copy_execute(order_copy_id=pending.pk).status == "completed"
    assert services.order_copy_execute(order_copy_id=pending.pk) is None


def test_abort_aborts_pending_copies_and_refuses_the_others(admin_client, make_copy):
    pending = make_copy("pending")
    others = [make_copy(s) for s in ("in_progress", "completed", "failed", "aborted")]
    response = trigger(admin_client, "abort_copies", pending, *others)
    rule = "only pending copies can be aborted; this one is"
    assert messages_of(response) == [
        "Aborted 1 copy; 4 refused.",
        *(
            f"Copy {c.pk} of order #{c.source_order.number} was not aborted: {rule} {c.status}"
            for c in others
        ),
    ]
    assert fresh(pending).status == "aborted"
    assert [fresh(c).status for c in others] == [c.status for c in others]


def test_when_every_copy_is_refused_the_summary_is_an_error(admin_client, make_copy):
    completed = make_copy("completed")
    response = trigger(admin_client, "abort_copies", completed)
    messages = list(response.context["messages"])
    assert [(m.level_tag, str(m)) for m in messages][0] == (
        "error",
        "No copy was aborted; 1 refused.",
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("action", ["launch_copies", "abort_copies"])
def test_a_copy_a_worker_holds_is_refused_at_once(postgres, admin_client, make_copy, action):
    import psycopg
    from django.db import connection

    pending = make_copy("pending")
    s = connection.settings_dict
    url = f"postgresql://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    with psycopg.connect(url) as worker:
        worker.execute(
            "SELECT id FROM ordercopies_ordercopy WHERE id = %s FOR UPDATE", [pending.pk]
        )
        response = trigger(admin_client, action, pending)
        worker.rollback()
    verb = {"launch_copies": "launched", "abort_copies": "aborted"}[action]
    assert messages_of(response)[1] == (
        f"Copy {pending.pk} of order #{pending.source_order.number} was not {verb}: "
        "the copy is running now; wait for it to end"
    )
    assert fresh(pending).status == "pending"


def test_a_trigger_from_the_copy_page_runs_at_once_and_comes_back(admin_client, make_copy):
    failed = make_copy("failed")
    data = {"CHANGE_FORM-action": "retry_copies", "_selected_action": [failed.pk]}
    response = admin_client.post(change_url(failed), data)
    assert response.status_code == 302 and response.url == change_url(failed)
    assert messages_of(admin_client.get(response.url)) == [f"Retried 1 copy ({NO_WORKER})."]
    assert fresh(failed).status == "pending"


def test_a_refused_trigger_from_the_copy_page_says_why(admin_client, make_copy):
    completed = make_copy("completed")
    data = {"CHANGE_FORM-action": "abort_copies", "_selected_action": [completed.pk]}
    response = admin_client.post(change_url(completed), data, follow=True)
    assert messages_of(response) == [
        "No copy was aborted; 1 refused.",
        f"Copy {completed.pk} of order #{completed.source_order.number} was not aborted: "
        "only pending copies can be aborted; this one is completed",
    ]


# Permissions ---------------------------------------------------------------------------------


def test_staff_without_the_trigger_permissions_sees_no_action_and_no_button(staff, make_copy):
    failed, pending = make_copy("failed"), make_copy("pending")
    client = staff(*VIEW)
    assert action_names(client.get(CHANGELIST)) == set()
    for order_copy in (failed, pending):
        response = client.get(change_url(order_copy))
        assert response.status_code == 200
        assert response.context["copy_buttons"] == []
        assert "CHANGE_FORM-action" not in response.text


@pytest.mark.parametrize("perm", TRIGGER_PERMISSIONS)
def test_staff_sees_only_the_triggers_it_may_pull(staff, make_copy, perm):
    make_copy("pending")
    client = staff(*VIEW, perm)
    action = perm.split(".")[1].replace("_ordercopy", "_copies")
    assert action_names(client.get(CHANGELIST)) == {action}


@pytest.mark.parametrize(
    ("action", "status"),
    [("launch_copies", "pending"), ("retry_copies", "failed"), ("abort_copies", "pending")],
)
@pytest.mark.parametrize("confirm", [False, True])
def test_forged_trigger_without_its_permission_changes_nothing(
    staff, make_copy, action, status, confirm
):
    order_copy = make_copy(status)
    others = [p for p in TRIGGER_PERMISSIONS if p.split(".")[1].split("_")[0] != action[:-7]]
    client = staff(*VIEW, *others)
    jobs, events = jobs_of(order_copy), Event.objects.count()
    response = trigger(client, action, order_copy, confirm=confirm)
    if not confirm:
        response = client.get(response.url)
    assert messages_of(response) == ["No action selected."]
    data = {"CHANGE_FORM-action": action, "_selected_action": [order_copy.pk]}
    response = client.post(change_url(order_copy), data, follow=True)
    assert messages_of(response) == ["No action selected."]
    assert fresh(order_copy).status == status
    assert (jobs_of(order_copy), Event.objects.count()) == (jobs, events)


# Copying from the order pages ----------------------------------------------------------------


def copy_form_data(*orders: Order, **options: Any) -> dict[str, Any]:
    data = {"action": "copy_orders", "_selected_action": [o.pk for o in orders], "post": "yes"}
    return (
        data
        | {name: "on" for name, on in options.items() if on is True}
        | {name: value for name, value in options.items() if not isinstance(value, bool)}
    )


def test_copy_selected_orders_first_shows_every_option(admin_client, make_order):
    orders = [make_order(), make_order(place=True)]
    Sku.objects.filter(pk=orders[0].line_items.first().sku_id).update(stock_quantity=0)
    data = {"action": "copy_orders", "_selected_action": [o.pk for o in orders]}
    response = admin_client.post(ORDERS, data)
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.fields) == {*OrderCopy.OPTIONS, "reference"}
    assert form["reuse_wallet"].initial is True
    assert not form["place_target_order"].initial
    text = response.text
    assert "Copy 2 orders" in text
    sku = Sku.objects.get(pk=orders[0].line_items.first().sku_id)
    assert f'<div class="copy-problem">SKU {sku.code} is out of stock</div>' in text
    assert not OrderCopy.objects.exists()


def preview(client: Client, *orders: Order, **options: Any) -> dict[str, list[str]]:
    """The copy page sent back with other options ("Check again"): order id → its problems."""
    response = client.post(ORDERS, copy_form_data(*orders, _preview="1", **options))
    assert response.status_code == 200
    assert not OrderCopy.objects.exists()
    return {order.pk: problems for order, *_, problems in response.context["rows"]}


def test_the_preview_flags_every_placement_rule_the_target_would_break(admin_client, make_order):
    ready = make_order()
    no_billing = make_order(billing_address=None)
    no_address = make_order(billing_address=None, shipping_address=None)
    disabled_method = make_order()
    PaymentMethod.objects.filter(pk=disabled_method.payment_method_id).update(enabled=False)
    orders = [ready, no_billing, no_address, disabled_method]
    method = PaymentMethod.objects.get(pk=disabled_method.payment_method_id)
    disabled = f"payment method {method.name} is disabled"
    assert preview(admin_client, *orders, reuse_wallet=True) == {
        **{o.pk: [] for o in orders},
        disabled_method.pk: [disabled],
    }  # without placement, only the disabled method is a problem
    assert preview(admin_client, *orders, reuse_wallet=True, place_target_order=True) == {
        ready.pk: [],
        no_billing.pk: ["cannot be placed: a billing address is required"],
        no_address.pk: [
            "cannot be placed: a billing address is required",
            "cannot be placed: a shipping address is required to ship the order",
        ],
        disabled_method.pk: [disabled, "cannot be placed: a payment method is required"],
    }
    # Without the wallet the payment source is not copied, and placement needs one.
    assert preview(admin_client, ready, place_target_order=True)[ready.pk] == [
        "cannot be placed: a payment source is required"
    ]
    assert preview(admin_client, ready, cancel_source_order=True)[ready.pk] == [
        "cannot transition from pending to cancelled"
    ]


def test_the_preview_says_what_the_copy_then_records(admin_client, make_order):
    no_billing, out_of_stock = make_order(billing_address=None), make_order(lines=1)
    disabled_method = make_order()
    Sku.objects.filter(line_items__order=out_of_stock).update(stock_quantity=0)
    PaymentMethod.objects.filter(pk=disabled_method.payment_method_id).update(enabled=False)
    options = {"reuse_wallet": True, "place_target_order": True}
    chosen = (no_billing, out_of_stock, disabled_method)
    foreseen = preview(admin_client, *chosen, **options)
    admin_client.post(ORDERS, copy_form_data(*chosen, **options))
    for order_copy in OrderCopy.objects.all():
        services.order_copy_execute(order_copy_id=order_copy.pk)
        ended = fresh(order_copy)
        recorded = [message for messages in ended.errors_log.values() for message in messages]
        assert ended.status == "failed"
        assert sorted(recorded) == sorted(foreseen[ended.source_order_id])


def test_the_preview_takes_as_many_queries_for_one_order_as_for_six(admin_client, make_order):
    orders = [make_order(billing_address=None) for _ in range(6)]
    options = {"reuse_wallet": True, "place_target_order": True, "cancel_source_order": True}
    counts = []
    for chosen in (orders[:1], orders):
        with CaptureQueriesContext(connection) as queries:
            preview(admin_client, *chosen, **options)
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_copy_selected_orders_creates_the_copies_with_the_options_and_links_to_them(
    admin_client, admin_user, make_order
):
    orders = [make_order(), make_order()]
    data = copy_form_data(*orders, place_target_order=True, skip_errors=True, reference="T-1")
    response = admin_client.post(ORDERS, data)
    copies = list(OrderCopy.objects.order_by("created_at", "pk"))
    assert [c.source_order_id for c in copies] == [o.pk for o in orders]
    for order_copy in copies:
        assert order_copy.options() == {
            "place_target_order": True,
            "reuse_wallet": False,  # unticked
            "cancel_source_order": False,
            "apply_promotions": False,
            "skip_errors": True,
            "ignore_invalid_coupon": False,
        }
        assert (order_copy.status, order_copy.reference) == ("pending", "T-1")
        assert jobs_of(order_copy) == 1
    assert response.url == f"{CHANGELIST}?id__in={copies[0].pk},{copies[1].pk}"
    page = admin_client.get(response.url)
    assert {c.pk for c in page.context["cl"].result_list} == {c.pk for c in copies}
    (message,) = messages_of(page)
    assert message.startswith("Created 2 order copies: ")
    assert message.endswith(f"Copies {NO_WORKER}.")  # no worker runs in this test
    link = f'<a href="{change_url(copies[0])}">{copies[0].pk}</a> of #{orders[0].number}'
    assert link in message
    assert link in page.text  # rendered as a link, not escaped
    event = Event.objects.get(name="order_copies.create", resource_id=copies[0].pk)
    assert (event.actor_kind, event.actor_id) == ("user", str(admin_user.pk))


def test_copy_selected_orders_refuses_test_and_live_orders_together(admin_client, make_order):
    live_market = factories.MarketFactory(mode="live", code="eu")
    live = Order.objects.create(market=live_market, mode="live", number="L1", currency_code="EUR")
    response = admin_client.post(ORDERS, copy_form_data(make_order(), live), follow=True)
    assert messages_of(response) == [
        "The selection mixes test and live orders: filter the orders by mode, then copy each "
        "mode on its own."
    ]
    assert not OrderCopy.objects.exists()


def test_copy_selected_orders_is_not_offered_without_permission_and_a_forged_post_copies_nothing(
    staff, make_order
):
    order = make_order()
    client = staff(*VIEW, "orders.change_order", "orders.place_order", *TRIGGER_PERMISSIONS)
    assert action_names(client.get(ORDERS)) == {"place_orders"}
    response = client.post(ORDERS, copy_form_data(order, place_target_order=True), follow=True)
    assert messages_of(response) == ["No action selected."]
    assert not OrderCopy.objects.exists()


def test_staff_with_the_add_permission_may_copy(staff, make_order):
    order = make_order()
    client = staff(*VIEW, "ordercopies.add_ordercopy")
    assert "copy_orders" in action_names(client.get(ORDERS))
    response = client.post(ORDERS, copy_form_data(order))
    assert response.status_code == 302
    assert OrderCopy.objects.get().source_order_id == order.pk


def test_copy_this_order_shows_the_form_then_opens_the_new_copy(admin_client, make_order):
    order = make_order(place=True)
    page = admin_client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert f'<a href="{copy_url(order)}" class="copy-order-link">Copy this order</a>' in page.text
    response = admin_client.get(copy_url(order))
    assert response.status_code == 200
    assert set(response.context["form"].fields) == {*OrderCopy.OPTIONS, "reference"}
    assert 'name="action"' not in response.text
    data = {"post": "yes", "cancel_source_order": "on", "reuse_wallet": "on"}
    response = admin_client.post(copy_url(order), data)
    order_copy = OrderCopy.objects.get()
    assert response.url == change_url(order_copy)
    assert (order_copy.cancel_source_order, order_copy.reuse_wallet) == (True, True)
    assert not order_copy.place_target_order
    (message,) = messages_of(admin_client.get(response.url))
    assert message.startswith(f'Created 1 order copy: <a href="{change_url(order_copy)}">')


def test_copy_this_order_is_forbidden_without_permission(staff, make_order):
    order = make_order()
    client = staff(*VIEW, "orders.change_order")
    page = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert "Copy this order" not in page.text
    assert client.get(copy_url(order)).status_code == 403
    assert client.post(copy_url(order), {"post": "yes"}).status_code == 403
    assert not OrderCopy.objects.exists()


def test_copy_this_order_of_an_unknown_order_is_not_found(admin_client, db):
    url = reverse("admin:orders_order_copy", args=["nope"])
    assert admin_client.get(url).status_code == 404


def test_order_page_lists_the_copies_made_from_it(admin_client, make_order, make_copy):
    order = make_order()
    completed = make_copy("completed", source=order)
    pending = make_copy("pending", source=order)
    make_copy("pending")  # of another order
    response = admin_client.get(reverse("admin:orders_order_change", args=[order.pk]))
    text = response.text
    assert text.index(pending.pk) < text.index(completed.pk)  # newest first
    assert f">#{completed.target_order.number}</a>" in text
    assert f"{CHANGELIST}?source_order__id__exact={order.pk}" in text
    listed = admin_client.get(f"{CHANGELIST}?source_order__id__exact={order.pk}")
    assert {c.pk for c in listed.context["cl"].result_list} == {completed.pk, pending.pk}


def test_a_target_order_links_back_to_its_copy_and_the_copy_to_its_source(admin_client, make_copy):
    completed = make_copy("completed")
    target_page = reverse("admin:orders_order_change", args=[completed.target_order_id])
    text = admin_client.get(target_page).text
    copy_page, source_page = (
        change_url(completed),
        reverse("admin:orders_order_change", args=[completed.source_order_id]),
    )
    assert (
        f'copy <a href="{copy_page}">{completed.pk}</a> of order '
        f'<a href="{source_page}">#{completed.source_order.number}</a>'
    ) in text
    assert f'<a href="{source_page}">' in admin_client.get(copy_page).text
    # The source itself was made by no copy.
    source_text = admin_client.get(source_page).text
    made_by = source_text.split("field-made_by_copy")[1].split("</div>")[:3]
    assert any(part.strip().endswith('<div class="readonly">-') for part in made_by)


def test_order_page_hides_the_copies_from_staff_who_may_not_see_them(staff, make_copy):
    order_copy = make_copy("pending")
    client = staff("orders.view_order")
    response = client.get(reverse("admin:orders_order_change", args=[order_copy.source_order_id]))
    assert response.status_code == 200
    assert order_copy.pk not in response.text


@pytest.mark.parametrize("attempts", [1, 3])
def test_change_page_queries_do_not_grow_with_attempts(
    admin_client, make_copy, django_assert_num_queries, attempts
):
    order_copy = make_copy("failed")
    for _ in range(attempts - 1):
        services.order_copy_retry(order_copy=order_copy)
        services.order_copy_execute(order_copy_id=order_copy.pk)
    assert fresh(order_copy).attempts == attempts
    admin_client.get(change_url(order_copy))  # warms the content types cache
    # session, user, the copy with its orders, live workers, its events
    with django_assert_num_queries(5):
        response = admin_client.get(change_url(order_copy))
    assert response.status_code == 200


# Why it failed, at a glance; live pages; workers --------------------------------------------

__all__ = ["worker_presence"]  # the fixture


def test_changelist_filters_by_error_kind(admin_client, make_copy, make_order):
    out_of_stock = make_copy("failed")
    no_address = make_order(billing_address=None)
    refused = services.order_copy_create(
        source_order=no_address, mode="test", place_target_order=True
    )
    services.order_copy_execute(order_copy_id=refused.pk)
    assert fresh(refused).errors_log == {
        "status": ["cannot be placed: a billing address is required"]
    }
    make_copy("completed")
    assert results(admin_client, "?error_kind=line_items") == {out_of_stock.pk}
    assert results(admin_client, "?error_kind=status") == {refused.pk}
    text = admin_client.get(CHANGELIST).text
    assert "By error kind" in text and "placement refused" in text


def test_changelist_searches_by_customer_email_order_id_and_error_text(admin_client, make_copy):
    failed, pending = make_copy("failed"), make_copy("pending")
    assert results(admin_client, f"?q={pending.source_order.customer_email}") == {pending.pk}
    assert results(admin_client, f"?q={failed.source_order_id}") == {failed.pk}
    assert results(admin_client, "?q=out of stock") == {failed.pk}
    help_text = admin_client.get(CHANGELIST).text
    assert "customer email or error text" in help_text


def test_list_and_copy_page_poll_only_while_a_copy_is_moving(admin_client, make_copy):
    pending, completed = make_copy("pending"), make_copy("completed")
    live = 'id="live-region" data-live-active="true"'
    still = 'id="live-region" data-live-active="false"'
    assert live in admin_client.get(CHANGELIST).text
    assert live in admin_client.get(change_url(pending)).text
    assert still in admin_client.get(change_url(completed)).text
    services.order_copy_abort(order_copy=pending)
    assert still in admin_client.get(CHANGELIST).text


def test_console_warns_when_no_worker_is_running(admin_client, make_copy):
    pending = make_copy("pending")
    for url in (CHANGELIST, change_url(pending)):
        assert "No worker is running" in admin_client.get(url).text


def test_with_a_worker_alive_there_is_no_warning_and_launch_just_reports(
    admin_client, make_copy, worker_presence: ProcessPresence
):
    pending = make_copy("pending")
    assert "No worker is running" not in admin_client.get(CHANGELIST).text
    response = trigger(admin_client, "launch_copies", pending)
    assert messages_of(response) == ["Launched 1 copy."]


def test_copying_with_a_worker_alive_does_not_warn(
    admin_client, make_order, worker_presence: ProcessPresence
):
    response = admin_client.post(ORDERS, copy_form_data(make_order()), follow=True)
    (message,) = messages_of(response)
    assert message.startswith("Created 1 order copy: ") and NO_WORKER not in message


def test_abort_on_a_copy_page_asks_for_confirmation_first(admin_client, make_copy):
    pending = make_copy("pending")
    text = admin_client.get(change_url(pending)).text
    question = f"Abort copy {pending.pk}? It stops and will not run (Retry can queue it again)."
    assert f'value="abort_copies" data-confirm="{question}"' in text
    assert 'value="launch_copies">' in text  # not destructive: no question


def test_a_copy_made_by_a_subscription_links_to_it(admin_client, make_copy):
    from subscriptions.models import OrderSubscription

    order_copy = make_copy("pending")
    subscription = OrderSubscription.objects.create(
        market=order_copy.source_order.market,
        source_order=order_copy.source_order,
        frequency="daily",
        number="S-1",
    )
    OrderCopy.objects.filter(pk=order_copy.pk).update(order_subscription=subscription)
    url = reverse("admin:subscriptions_ordersubscription_change", args=[subscription.pk])
    text = admin_client.get(change_url(order_copy)).text
    assert f'<a href="{url}">subscription {subscription.pk}</a>' in text
