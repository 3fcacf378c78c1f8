"""Recording events and reading a resource's timeline."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.actors import SYSTEM, Actor
from events.models import Event
from events.selectors import event_list_for
from events.services import event_build, event_record, event_record_many, resource_type_of
from orders.models import SkuPrice
from tests import factories

pytestmark = pytest.mark.django_db

ACTOR = Actor(kind="api_client", id="client-7", label="Storefront")


def test_event_record_stores_everything_about_the_event():
    order = factories.OrderFactory()
    event = event_record(
        name="orders.place", resource=order, payload={"number": order.number}, actor=ACTOR
    )
    stored = Event.objects.get(pk=event.pk)
    assert stored.name == "orders.place"
    assert stored.resource_type == "orders"
    assert stored.resource_id == order.pk
    assert stored.mode == "test"
    assert stored.payload == {"number": order.number}
    assert (stored.actor_kind, stored.actor_id, stored.actor_label) == (
        "api_client",
        "client-7",
        "Storefront",
    )
    assert stored.created_at is not None
    assert len(stored.id) == 10


def test_event_takes_the_mode_of_its_resource():
    market = factories.MarketFactory(mode="live", code="live-eu")
    event = event_record(name="markets.update", resource=market)
    assert Event.objects.get(pk=event.pk).mode == "live"


@pytest.mark.parametrize(
    ("factory", "resource_type"),
    [
        (factories.MarketFactory, "markets"),
        (factories.SkuFactory, "skus"),
        (factories.LineItemFactory, "line_items"),
        (factories.CouponFactory, "coupons"),
    ],
)
def test_resource_type_is_the_models_json_api_type(factory, resource_type):
    event = event_record(name=f"{resource_type}.create", resource=factory())
    assert Event.objects.get(pk=event.pk).resource_type == resource_type


def test_a_model_without_resource_type_is_named_by_its_table():
    price = factories.SkuPriceFactory()
    assert resource_type_of(price) == SkuPrice._meta.db_table
    event = event_record(name="prices.update", resource=price)
    assert (event.resource_type, event.resource_id, event.mode) == (
        SkuPrice._meta.db_table,
        str(price.pk),
        "test",
    )


def test_event_without_payload_or_actor_is_the_systems_with_an_empty_payload():
    event = event_record(name="orders.create", resource=factories.OrderFactory())
    stored = Event.objects.get(pk=event.pk)
    assert stored.payload == {}
    assert (stored.actor_kind, stored.actor_id, stored.actor_label) == (
        SYSTEM.kind,
        SYSTEM.id,
        SYSTEM.label,
    )


def test_event_build_does_not_save_until_recorded_many():
    orders = [factories.OrderFactory(), factories.OrderFactory()]
    built = [event_build(name="orders.archive", resource=o, actor=ACTOR) for o in orders]
    assert not Event.objects.exists()
    event_record_many(built)
    assert sorted(Event.objects.values_list("resource_id", "actor_id")) == sorted(
        (o.pk, "client-7") for o in orders
    )


def test_event_list_for_is_the_resources_timeline_oldest_first():
    order = factories.OrderFactory()
    other = factories.OrderFactory()
    names = ["orders.create", "orders.place", "orders.approve"]
    events = [event_record(name=name, resource=order) for name in names]
    event_record(name="orders.create", resource=other)
    event_record(name="skus.create", resource=factories.SkuFactory())
    # Recorded in one order, stamped in another: the timeline follows the stamps.
    now = timezone.now()
    for event, minutes_ago in zip(events, [5, 15, 10], strict=True):
        Event.objects.filter(pk=event.pk).update(created_at=now - timedelta(minutes=minutes_ago))

    timeline = event_list_for(resource_type="orders", resource_id=order.pk)

    assert [e.name for e in timeline] == ["orders.place", "orders.approve", "orders.create"]


def test_events_at_the_same_instant_are_ordered_by_id():
    order = factories.OrderFactory()
    events = [event_record(name=f"orders.step{i}", resource=order) for i in range(4)]
    Event.objects.update(created_at=timezone.now())
    timeline = event_list_for(resource_type="orders", resource_id=order.pk)
    assert [e.pk for e in timeline] == sorted(e.pk for e in events)


def test_event_list_for_ignores_another_type_with_the_same_id():
    order = factories.OrderFactory()
    event_record(name="orders.create", resource=order)
    sku = factories.SkuFactory()
    Event.objects.create(name="skus.create", resource_type="skus", resource_id=order.pk)
    assert [e.name for e in event_list_for(resource_type="orders", resource_id=order.pk)] == [
        "orders.create"
    ]
    assert not event_list_for(resource_type="skus", resource_id=sku.pk).exists()


def test_event_reads_as_its_name_and_resource():
    order = factories.OrderFactory()
    event = event_record(name="orders.create", resource=order)
    assert str(event) == f"orders.create orders/{order.pk}"
