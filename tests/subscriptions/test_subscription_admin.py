"""The subscriptions admin: pages, query counts, the form through the services, and the actions
driven by POSTing to the changelist as a browser would."""

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from events.models import Event
from subscriptions import services
from subscriptions.models import OrderSubscription
from tests.subscriptions.conftest import execute_copy, fresh

CHANGELIST = reverse("admin:subscriptions_ordersubscription_changelist")
ADD = reverse("admin:subscriptions_ordersubscription_add")
Status = OrderSubscription.Status


def change_url(subscription: OrderSubscription) -> str:
    return reverse("admin:subscriptions_ordersubscription_change", args=[subscription.pk])


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def run_action(client: Client, action: str, *subscriptions: OrderSubscription, **extra: str):
    data = {"action": action, "_selected_action": [s.pk for s in subscriptions], **extra}
    return client.post(CHANGELIST, data, follow=True)


@pytest.fixture
def staff_client(db: None):
    """A staff user (not a superuser) with the given permissions of the subscriptions app."""

    def make(*codenames: str) -> Client:
        user = User.objects.create_user(username="staff", password="staff", is_staff=True)
        permissions = Permission.objects.filter(
            content_type__app_label="subscriptions", codename__in=codenames
        )
        assert permissions.count() == len(codenames)
        user.user_permissions.set(permissions)
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def with_history(make_subscription):
    """An active subscription with a completed run and a run in progress."""
    subscription = make_subscription(frequency="weekly", renewal_alert_period=24)
    execute_copy(services.order_subscription_run(subscription=subscription))
    services.order_subscription_run(subscription=subscription)
    return fresh(subscription)


# Pages ---------------------------------------------------------------------------------------


def test_changelist_shows_status_frequency_and_runs(admin_client, with_history, make_order):
    draft = services.order_subscription_create(
        source_order=make_order(), mode="test", frequency="0 9 * * 1"
    )
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    assert set(response.context["cl"].result_list) == {with_history, draft}
    assert "cron, UTC: " in response.text and "0 9 * * 1" not in response.text  # described
    assert f"#{with_history.source_order.number}" in response.text
    response = admin_client.get(CHANGELIST + "?status__exact=running&q=" + with_history.number)
    assert list(response.context["cl"].result_list) == [with_history]


@pytest.mark.parametrize("count", [3, 15])
def test_changelist_queries_do_not_grow_with_subscriptions(
    admin_client, make_subscription, django_assert_num_queries, count
):
    for n in range(count):
        subscription = make_subscription(frequency="daily" if n % 2 else "0 6 * * *")
        if n % 3 == 0:
            services.order_subscription_deactivate(subscription=subscription)
    # session, user, two counts, the page of subscriptions with their source orders
    with django_assert_num_queries(5):
        response = admin_client.get(CHANGELIST)
    assert response.context["cl"].result_count == count


def test_change_page_shows_schedule_upcoming_runs_copies_and_timeline(
    admin_client, with_history, django_assert_num_queries
):
    ContentType.objects.get_for_model(OrderSubscription)  # cached for a process's lifetime
    # session, user, the subscription with its relations, its runs with copies and orders,
    # its events
    with django_assert_num_queries(5):
        response = admin_client.get(change_url(with_history))
    assert response.status_code == 200
    text = response.text
    assert "every week" in text
    upcoming = response.context["adminform"].form.instance
    assert upcoming == with_history
    assert text.count("<li><time>") >= 5  # the next five runs, then the timeline
    copies = with_history.order_copies.order_by("created_at")
    for copy in copies:
        assert reverse("admin:ordercopies_ordercopy_change", args=[copy.pk]) in text
    assert "succeeded" in text and "pending" in text
    assert copies.first().target_order.number in text
    assert "order_subscriptions.run_complete" in text
    form = response.context["adminform"].form
    assert "status" not in form.fields and "occurrencies" not in form.fields
    assert "starts_at" not in form.fields  # only before activation
    assert {"frequency", "next_run_at", "expires_at", "reference"} <= set(form.fields)


def test_change_page_of_a_cancelled_subscription_is_read_only_but_its_reference(
    admin_client, make_subscription
):
    subscription = services.order_subscription_cancel(subscription=make_subscription())
    response = admin_client.get(change_url(subscription))
    assert "none while cancelled" in response.text
    form = response.context["adminform"].form
    assert set(form.fields) == {"reference", "reference_origin", "metadata"}


# The form ------------------------------------------------------------------------------------


def test_add_creates_through_the_service_as_the_staff_user(admin_client, admin_user, placed_order):
    data = {
        "source_order": placed_order.pk,
        "frequency": " Monthly ",
        "activate_by_source_order": "on",
        "place_target_order": "on",
        "renewal_alert_period": "48",
        "metadata": "{}",
    }
    response = admin_client.post(ADD, data, follow=True)
    assert response.status_code == 200, response.context["adminform"].form.errors
    subscription = OrderSubscription.objects.get()
    assert (subscription.status, subscription.frequency) == (Status.ACTIVE, "monthly")
    assert subscription.market_id == placed_order.market_id
    create = Event.objects.get(name="order_subscriptions.create")
    assert (create.actor_kind, create.actor_id) == ("user", str(admin_user.pk))


def test_add_refuses_a_frequency_finer_than_the_hour_on_the_field(admin_client, placed_order):
    data = {"source_order": placed_order.pk, "frequency": "*/10 * * * *", "metadata": "{}"}
    response = admin_client.post(ADD, data)
    assert response.status_code == 200
    assert "more often than hourly" in str(response.context["adminform"].form.errors["frequency"])
    assert not OrderSubscription.objects.exists()


def test_add_reports_a_refusal_of_the_service(admin_client, placed_order):
    data = {
        "source_order": placed_order.pk,
        "frequency": "daily",
        "metadata": "{}",
    }  # activate_by_source_order unchecked and no starts_at
    response = admin_client.post(ADD, data, follow=True)
    assert any("starts_at is required" in message for message in messages_of(response))
    assert not OrderSubscription.objects.exists()


def test_change_updates_through_the_service(admin_client, make_subscription):
    subscription = make_subscription(frequency="daily")
    response = admin_client.get(change_url(subscription))
    form = response.context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data |= {
        form[name].html_initial_name: form[name].value()
        for name, field in form.fields.items()
        if field.show_hidden_initial
    }
    later = timezone.localtime(timezone.now() + timedelta(days=3)).replace(microsecond=0)
    data |= {
        "frequency": "weekly",
        "next_run_at_0": later.strftime("%Y-%m-%d"),
        "next_run_at_1": later.strftime("%H:%M:%S"),
        "_save": "Save",
    }
    data.pop("next_run_at", None)
    data = {name: "" if value is None else value for name, value in data.items()}
    response = admin_client.post(change_url(subscription), data, follow=True)
    assert response.status_code == 200
    stored = fresh(subscription)
    assert (stored.frequency, stored.next_run_at) == ("weekly", later)
    update = Event.objects.get(name="order_subscriptions.update", resource_id=subscription.pk)
    assert update.payload == {"changed": ["frequency", "next_run_at"]}


# Actions -------------------------------------------------------------------------------------


def test_activate_and_deactivate_report_counts_and_refusals(admin_client, make_subscription):
    active, also_active = make_subscription(), make_subscription()
    response = run_action(admin_client, "deactivate_subscriptions", active, also_active)
    assert messages_of(response) == ["Deactivated 2 subscriptions."]
    response = run_action(admin_client, "activate_subscriptions", active)
    assert messages_of(response) == ["Activated 1 subscription."]
    response = run_action(admin_client, "deactivate_subscriptions", active, also_active)
    assert messages_of(response) == [
        "Deactivated 1 subscription; 1 refused.",
        f"{also_active} was not deactivated: cannot transition from inactive to inactive",
    ]
    assert (fresh(active).status, fresh(also_active).status) == (Status.INACTIVE, Status.INACTIVE)
    event = Event.objects.filter(name="order_subscriptions.activate", resource_id=active.pk)
    assert event.last().actor_kind == "user"


def test_run_now_starts_a_copy_and_refuses_what_cannot_run(admin_client, make_subscription):
    active, inactive = make_subscription(), make_subscription()
    services.order_subscription_deactivate(subscription=inactive)
    response = run_action(admin_client, "run_subscriptions", active, inactive)
    assert messages_of(response) == [
        "Started a run of 1 subscription; 1 refused.",
        f"{inactive} was not run: only active subscriptions can run; this one is inactive",
    ]
    assert fresh(active).status == Status.RUNNING
    assert active.order_copies.count() == 1


def test_cancel_asks_for_confirmation_first(admin_client, make_subscription):
    subscription = make_subscription()
    response = run_action(admin_client, "cancel_subscriptions", subscription)
    assert response.status_code == 200
    assert "Cancelling is final" in response.text
    assert fresh(subscription).status == Status.ACTIVE

    response = run_action(admin_client, "cancel_subscriptions", subscription, post="yes")
    assert messages_of(response) == ["Cancelled 1 subscription."]
    assert fresh(subscription).status == Status.CANCELLED


def test_delete_asks_first_and_deletes_only_drafts(admin_client, make_order, make_subscription):
    active = make_subscription()
    draft = services.order_subscription_create(
        source_order=make_order(), mode="test", frequency="daily", activate_by_source_order=True
    )
    page = run_action(admin_client, "delete_selected", active, draft)
    assert "Delete 2 order subscriptions?" in page.text
    assert OrderSubscription.objects.count() == 2
    response = run_action(admin_client, "delete_selected", active, draft, post="yes")
    assert messages_of(response) == [
        "Deleted 1 subscription; 1 refused.",
        f"{active} was not deleted: only draft subscriptions can be deleted; this one is "
        "active: cancel it",
    ]
    assert list(OrderSubscription.objects.all()) == [active]


def test_actions_need_their_permission(staff_client, make_subscription):
    subscription = make_subscription()
    viewer = staff_client("view_ordersubscription")
    response = viewer.get(CHANGELIST)
    assert response.status_code == 200
    assert response.context["action_form"] is None or not any(
        name.endswith("_subscriptions")
        for name, _ in response.context["action_form"].fields["action"].choices
    )
    run_action(viewer, "run_subscriptions", subscription)
    assert fresh(subscription).status == Status.ACTIVE


def test_a_staff_user_with_the_run_permission_can_run(staff_client, make_subscription):
    subscription = make_subscription()
    client = staff_client("view_ordersubscription", "run_ordersubscription")
    choices = dict(client.get(CHANGELIST).context["action_form"].fields["action"].choices)
    assert "run_subscriptions" in choices
    assert "cancel_subscriptions" not in choices
    assert messages_of(run_action(client, "run_subscriptions", subscription)) == [
        "Started a run of 1 subscription."
    ]


def test_only_drafts_can_be_deleted(admin_client, make_subscription, make_order):
    draft = services.order_subscription_create(
        source_order=make_order(), mode="test", frequency="daily"
    )
    active = make_subscription()
    delete = reverse("admin:subscriptions_ordersubscription_delete", args=[active.pk])
    assert admin_client.get(delete).status_code == 403
    delete = reverse("admin:subscriptions_ordersubscription_delete", args=[draft.pk])
    admin_client.post(delete, {"post": "yes"})
    assert not OrderSubscription.objects.filter(pk=draft.pk).exists()
    assert Event.objects.filter(name="order_subscriptions.destroy", resource_id=draft.pk).exists()


def test_the_list_says_in_plain_words_when_each_runs_and_shows_no_next_run_once_it_will_not(
    admin_client, make_subscription
):
    make_subscription(frequency="weekly")
    cancelled = make_subscription(frequency="0 9 * * *")
    services.order_subscription_cancel(subscription=cancelled)
    response = admin_client.get(reverse("admin:subscriptions_ordersubscription_changelist"))
    text = response.text
    assert "every week" in text
    assert "0 9 * * *" not in text  # a cron expression is described, not shown bare
    assert "none while cancelled" in text
    assert "Occurrencies" not in text and "Runs so far" in text
