from typing import Any

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from events.models import Event
from orders import services as order_services
from orders.models import LineItem, Order, Sku
from tests import factories

CHANGELIST = reverse("admin:orders_order_changelist")
ORDER_MODELS = [model for model in admin.site._registry if model._meta.app_label == "orders"]


def change_url(order: Order) -> str:
    return reverse("admin:orders_order_change", args=[order.pk])


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def run_action(client: Client, action: str, *orders: Order, confirm: bool = True) -> list[str]:
    data = {"action": action, "_selected_action": [order.pk for order in orders]}
    if confirm and action in ("cancel_orders", "delete_selected"):  # confirmed on a page first
        data["post"] = "yes"
    response = client.post(CHANGELIST, data, follow=True)
    assert response.status_code == 200
    return messages_of(response)


def snapshot(order: Order) -> dict[str, Any]:
    fresh = Order.objects.get(pk=order.pk)
    fields = ["status", "payment_status", "fulfillment_status", "placed_at", "approved_at"]
    fields += ["cancelled_at", "archived_at", "updated_at", "total_amount_cents"]
    return {field: getattr(fresh, field) for field in fields}


def form_data(response: Any, **changes: Any) -> dict[str, Any]:
    """What the browser would post back from an admin change form, with `changes` applied."""
    form = response.context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data |= {
        form[name].html_initial_name: form[name].value()
        for name, field in form.fields.items()
        if field.show_hidden_initial  # fields with a callable default, e.g. metadata
    }
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data |= {
            management.add_prefix(name): management[name].value() for name in management.fields
        }
    data |= changes | {"_save": "Save"}
    return {name: "" if value is None else value for name, value in data.items()}


@pytest.fixture
def catalogue(make_order: Any) -> None:
    """At least one row of every model the admin lists."""
    make_order(place=True)
    make_order()
    factories.CouponFactory(promotion__market=Order.objects.first().market)


# Pages ---------------------------------------------------------------------------------------


def test_every_model_of_orders_is_registered() -> None:
    names = {model.__name__ for model in ORDER_MODELS}
    assert names >= {"Market", "Customer", "Sku", "Address", "PaymentMethod", "PaymentSource"}
    assert names >= {"CustomerPaymentSource", "Promotion", "Coupon", "Order", "LineItem"}


@pytest.mark.parametrize("model", ORDER_MODELS, ids=lambda model: model.__name__)
def test_changelist_and_change_page_render_for_a_superuser(admin_client, catalogue, model):
    opts = model._meta
    response = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert response.status_code == 200
    assert response.context["cl"].result_count > 0
    obj = model.objects.first()
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    assert admin_client.get(url).status_code == 200


def test_order_changelist_filters_and_search(admin_client, make_order):
    placed = make_order(place=True)
    order_services.order_archive(order=placed)
    make_order()
    query = f"?status=placed&archived=yes&market__id__exact={placed.market_id}&q={placed.number}"
    response = admin_client.get(CHANGELIST + query)
    assert list(response.context["cl"].result_list) == [placed]
    response = admin_client.get(CHANGELIST + "?archived=no")
    assert placed not in response.context["cl"].result_list


def test_order_changelist_shows_formatted_totals(admin_client, make_order):
    order = make_order(lines=1)
    response = admin_client.get(CHANGELIST)
    assert order.formatted(order.total_amount_cents) == "€18.00"
    assert "€18.00" in response.text


@pytest.mark.parametrize("count", [3, 20])
def test_order_changelist_queries_do_not_grow_with_orders(
    admin_client, make_order, django_assert_num_queries, count
):
    us = factories.MarketFactory(code="us", name="United States", currency_code="USD")
    for n in range(count):
        if n % 2:
            make_order(lines=1)
        else:
            order_services.order_create(market=us, customer_email=f"buyer{n}@example.com")
    # session, user, markets of the filter, two counts, the orders with their markets, two for
    # the date hierarchy
    with django_assert_num_queries(8):
        response = admin_client.get(CHANGELIST)
    assert response.context["cl"].result_count == count


def test_order_change_page_shows_the_timeline_and_read_only_lines(admin_client, make_order):
    order = make_order(lines=2, place=True)
    response = admin_client.get(change_url(order))
    assert "orders.create" in response.text
    assert "orders.place" in response.text
    form = response.context["adminform"].form
    assert "status" not in form.fields
    assert "customer_email" not in form.fields  # a placed order is no longer editable
    assert "reference" in form.fields
    (lines,) = response.context["inline_admin_formsets"]
    assert not lines.has_change_permission and not lines.has_add_permission


def test_order_change_page_shows_the_totals_under_the_line_items(admin_client, make_order):
    order = make_order(lines=1)
    text = admin_client.get(change_url(order)).text
    assert text.index('id="line_items-group"') < text.index('class="module order-totals"')
    for label, amount in [("Subtotal", "€10.00"), ("Shipping", "€5.00"), ("Total", "€18.00")]:
        assert f'<th scope="row">{label}</th><td>{amount}</td>' in text


# Actions: success and every refusal ----------------------------------------------------------


def test_place_action_places_ready_orders_as_the_staff_user(admin_client, admin_user, make_order):
    orders = [make_order(), make_order()]
    assert run_action(admin_client, "place_orders", *orders) == ["Placed 2 orders."]
    for order in orders:
        order.refresh_from_db()
        assert order.status == Order.Status.PLACED
    event = Event.objects.get(name="orders.place", resource_id=orders[0].pk)
    assert (event.actor_kind, event.actor_id) == ("user", str(admin_user.pk))


def test_place_action_refuses_a_draft_order_missing_things_and_leaves_it_alone(
    admin_client, market, make_order
):
    ready = make_order()
    draft = order_services.order_create(market=market)
    before = snapshot(draft)
    messages = run_action(admin_client, "place_orders", ready, draft)
    assert messages == [
        "Placed 1 order; 1 refused.",
        f"Order #{draft.number} was not placed: cannot transition from draft to placed; "
        "the order has no line items; a customer email is required; "
        "a billing address is required",
    ]
    assert snapshot(draft) == before
    assert not Event.objects.filter(name="orders.place", resource_id=draft.pk).exists()


def test_place_action_refuses_an_out_of_stock_order_and_takes_no_stock(admin_client, make_order):
    order = make_order(lines=2)
    skus = [line.sku for line in order.line_items.all()]
    Sku.objects.filter(pk=skus[0].pk).update(stock_quantity=0)
    before = snapshot(order)
    messages = run_action(admin_client, "place_orders", order)
    assert messages == [
        "No order was placed; 1 refused.",
        f"Order #{order.number} was not placed: "
        f"SKU {skus[0].code} is out of stock (0 available, 1 wanted)",
    ]
    assert snapshot(order) == before
    assert Sku.objects.get(pk=skus[1].pk).stock_quantity == skus[1].stock_quantity


def test_approve_action_approves_placed_and_refuses_pending(admin_client, make_order):
    placed, pending = make_order(place=True), make_order()
    before = snapshot(pending)
    messages = run_action(admin_client, "approve_orders", placed, pending)
    assert messages == [
        "Approved 1 order; 1 refused.",
        f"Order #{pending.number} was not approved: cannot transition from pending to approved",
    ]
    assert Order.objects.get(pk=placed.pk).status == Order.Status.APPROVED
    assert snapshot(pending) == before


def test_cancel_action_cancels_placed_and_refuses_draft(admin_client, market, make_order):
    placed = make_order(lines=1, quantity=3, place=True)
    sku = placed.line_items.get().sku
    draft = order_services.order_create(market=market)
    before = snapshot(draft)
    messages = run_action(admin_client, "cancel_orders", placed, draft)
    assert messages == [
        "Cancelled 1 order; 1 refused.",
        f"Order #{draft.number} was not cancelled: cannot transition from draft to cancelled",
    ]
    placed.refresh_from_db()
    assert (placed.status, placed.payment_status) == ("cancelled", "voided")
    assert Sku.objects.get(pk=sku.pk).stock_quantity == 100
    assert snapshot(draft) == before


def test_cancel_first_asks_for_confirmation_and_changes_nothing(admin_client, make_order):
    placed = make_order(lines=1, place=True)
    before = snapshot(placed)
    data = {"action": "cancel_orders", "_selected_action": [placed.pk], "index": "0"}
    response = admin_client.post(CHANGELIST, data)
    assert response.status_code == 200
    assert response.templates[0].name == "admin/action_confirmation.html"
    text = response.text
    assert "Cancel 1 order? Each is cancelled for good, and its stock is given back." in text
    assert 'value="Yes, cancel 1 order"' in text
    assert 'name="post" value="yes"' in text and 'name="action" value="cancel_orders"' in text
    assert snapshot(placed) == before
    confirmed = admin_client.post(CHANGELIST, {**data, "post": "yes"}, follow=True)
    assert messages_of(confirmed) == ["Cancelled 1 order."]
    assert Order.objects.get(pk=placed.pk).status == "cancelled"


def test_cancel_from_an_order_page_asks_first_under_its_own_action_field(admin_client, make_order):
    placed = make_order(lines=1, place=True)
    url = reverse("admin:orders_order_change", args=[placed.pk])
    data = {"CHANGE_FORM-action": "cancel_orders", "_selected_action": [placed.pk]}
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert 'name="CHANGE_FORM-action" value="cancel_orders"' in response.text
    assert Order.objects.get(pk=placed.pk).status == "placed"
    admin_client.post(url, {**data, "post": "yes"})
    assert Order.objects.get(pk=placed.pk).status == "cancelled"


def test_the_order_list_shows_and_filters_the_mode(admin_client, make_order):
    order = make_order()
    Order.objects.filter(pk=order.pk).update(mode="live")
    make_order()
    text = admin_client.get(CHANGELIST).text
    assert 'class="mode-badge mode-live"' in text and 'class="mode-badge mode-test"' in text
    listed = admin_client.get(CHANGELIST + "?mode__exact=live").context["cl"].result_list
    assert [o.pk for o in listed] == [order.pk]


def test_archive_action_twice_refuses_the_second_time(admin_client, make_order):
    order = make_order(place=True)
    assert run_action(admin_client, "archive_orders", order) == ["Archived 1 order."]
    archived = snapshot(order)
    assert archived["archived_at"] is not None
    messages = run_action(admin_client, "archive_orders", order)
    assert messages == [
        "No order was archived; 1 refused.",
        f"Order #{order.number} was not archived: the order is already archived",
    ]
    assert snapshot(order) == archived


def test_unarchive_action_unarchives_and_refuses_an_order_not_archived(admin_client, make_order):
    archived = order_services.order_archive(order=make_order(place=True))
    current = make_order()
    before = snapshot(current)
    messages = run_action(admin_client, "unarchive_orders", archived, current)
    assert messages == [
        "Unarchived 1 order; 1 refused.",
        f"Order #{current.number} was not unarchived: the order is not archived",
    ]
    assert Order.objects.get(pk=archived.pk).archived_at is None
    assert snapshot(current) == before


def test_delete_asks_first_then_deletes_drafts_and_reports_each_refusal(
    admin_client, market, make_order
):
    draft, placed = order_services.order_create(market=market), make_order(place=True)
    page = admin_client.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": [draft.pk, placed.pk]}
    )
    assert page.templates[0].name == "admin/action_confirmation.html"
    assert "Delete 2 orders?" in page.text
    assert Order.objects.filter(pk__in=[draft.pk, placed.pk]).count() == 2
    assert run_action(admin_client, "delete_selected", draft, placed) == [
        "Deleted 1 order; 1 refused.",
        f"Order #{placed.number} was not deleted: a placed order cannot be deleted; "
        "archive it instead",
    ]
    assert list(Order.objects.filter(pk__in=[draft.pk, placed.pk])) == [placed]


def test_action_from_the_change_page(admin_client, make_order):
    order = make_order()
    data = {"CHANGE_FORM-action": "place_orders", "_selected_action": [order.pk]}
    response = admin_client.post(change_url(order), data, follow=True)
    assert messages_of(response) == ["Placed 1 order."]
    assert Order.objects.get(pk=order.pk).status == Order.Status.PLACED


# Permissions ---------------------------------------------------------------------------------


def action_names(response: Any) -> set[str]:
    return {name for name, _ in response.context["action_form"].fields["action"].choices if name}


def test_staff_sees_only_the_actions_it_has_permission_for(staff_client, make_order):
    make_order()
    client = staff_client("view_order", "change_order", "approve_order", "archive_order")
    names = action_names(client.get(CHANGELIST))
    assert names == {"approve_orders", "archive_orders", "unarchive_orders"}


@pytest.mark.parametrize(
    ("action", "codename"),
    [
        ("place_orders", "place_order"),
        ("approve_orders", "approve_order"),
        ("cancel_orders", "cancel_order"),
        ("archive_orders", "archive_order"),
    ],
)
def test_forged_action_without_its_permission_changes_nothing(
    staff_client, make_order, action, codename
):
    others = {"place_order", "approve_order", "cancel_order", "archive_order"} - {codename}
    client = staff_client("view_order", "change_order", *others)
    order = make_order(place=action != "place_orders")
    before = snapshot(order)
    assert action not in action_names(client.get(CHANGELIST))
    assert run_action(client, action, order) == ["No action selected."]
    assert snapshot(order) == before


# Add, change and delete through the services -------------------------------------------------


def test_adding_an_order_creates_it_through_the_service(admin_client, admin_user, market):
    data = {
        "market": market.pk,
        "customer_email": "New.Buyer@Example.com",
        "language_code": "it",
        "country_code": "IT",
        "reference": "phone order",
        "reference_origin": "",
        "metadata": '{"channel": "phone"}',
        "_save": "Save",
    }
    response = admin_client.post(reverse("admin:orders_order_add"), data, follow=True)
    assert response.status_code == 200
    order = Order.objects.get(reference="phone order")
    assert (order.status, order.currency_code, order.mode) == ("draft", "EUR", "test")
    assert order.customer is not None and order.customer.email == "new.buyer@example.com"
    assert order.metadata == {"channel": "phone"}
    event = Event.objects.get(name="orders.create", resource_id=order.pk)
    assert event.actor_id == str(admin_user.pk)


def test_changing_a_pending_order_goes_through_order_update(admin_client, market, make_order):
    order = make_order()
    coupon = factories.CouponFactory(promotion__market=market, promotion__percentage=50)
    page = admin_client.get(change_url(order))
    data = form_data(page, coupon_code=coupon.code, reference="re-sent")
    response = admin_client.post(change_url(order), data, follow=True)
    assert response.status_code == 200
    order.refresh_from_db()
    assert (order.coupon_code, order.reference) == (coupon.code, "re-sent")
    assert order.line_items.filter(item_type=LineItem.ItemType.COUPONS).exists()
    event = Event.objects.filter(name="orders.update", resource_id=order.pk).last()
    assert event is not None and event.payload == {"changed": ["coupon_code", "reference"]}
    assert event.actor_kind == "user"


def test_a_refused_change_is_reported_and_saves_nothing(admin_client, make_order):
    order = make_order()
    before = snapshot(order)
    data = form_data(admin_client.get(change_url(order)), coupon_code="NOPE", reference="x")
    response = admin_client.post(change_url(order), data, follow=True)
    assert messages_of(response) == ["The order was not saved: coupon NOPE does not exist"]
    assert snapshot(order) == before
    assert Order.objects.get(pk=order.pk).reference == ""


def test_an_address_of_the_other_mode_is_not_offered(admin_client, make_order):
    order = make_order()
    live_address = factories.AddressFactory(mode="live")
    data = form_data(admin_client.get(change_url(order)), billing_address=live_address.pk)
    response = admin_client.post(change_url(order), data)
    assert response.status_code == 200
    assert "billing_address" in response.context["adminform"].form.errors
    assert Order.objects.get(pk=order.pk).billing_address_id != live_address.pk


def test_a_placed_order_keeps_its_customer_but_takes_a_reference(admin_client, make_order):
    order = make_order(place=True)
    data = form_data(admin_client.get(change_url(order)), reference="checked")
    data["customer_email"] = "someone.else@example.com"
    admin_client.post(change_url(order), data, follow=True)
    order.refresh_from_db()
    assert order.reference == "checked"
    assert order.customer_email != "someone.else@example.com"


def test_deleting_a_pending_order_uses_the_service(admin_client, make_order):
    order = make_order()
    url = reverse("admin:orders_order_delete", args=[order.pk])
    response = admin_client.post(url, {"post": "yes"}, follow=True)
    assert response.status_code == 200
    assert not Order.objects.filter(pk=order.pk).exists()
    assert Event.objects.filter(name="orders.destroy", resource_id=order.pk).exists()


def test_a_placed_order_cannot_be_deleted(admin_client, make_order):
    order = make_order(place=True)
    url = reverse("admin:orders_order_delete", args=[order.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert Order.objects.filter(pk=order.pk).exists()
