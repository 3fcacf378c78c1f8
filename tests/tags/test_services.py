import threading

import pytest
from django.db import connection, transaction

from events.models import Event
from tags.exceptions import TagInvalid, TagsNotFound, TooManyTags
from tags.models import TaggedItem
from tags.selectors import tag_list_for
from tags.services import resource_tags_change, tag_create, tag_delete, tag_update, tags_by_names
from tests import factories


@pytest.fixture
def order(db):
    return factories.OrderFactory()


def names(resource):
    return [tag.name for tag in tag_list_for(resource=resource)]


def test_a_tag_name_is_stored_in_lower_case_and_checked(db):
    assert tag_create(name="  Black-Friday:26 ", mode="test").name == "black-friday:26"
    with pytest.raises(TagInvalid):
        tag_create(name="black-friday:26", mode="test")
    with pytest.raises(TagInvalid):
        tag_create(name="no spaces", mode="test")


def test_adding_what_is_there_changes_nothing_and_records_nothing(order):
    vip = factories.TagFactory(name="vip")
    resource_tags_change(resource=order, add=[vip])
    resource_tags_change(resource=order, add=[vip])
    assert names(order) == ["vip"]
    tagged = Event.objects.filter(name="orders.tagged", resource_id=order.pk)
    assert list(tagged.values_list("payload", flat=True)) == [{"tags": ["vip"]}]


def test_replace_then_add_then_remove(order):
    a, b, c = (factories.TagFactory(name=n) for n in "abc")
    resource_tags_change(resource=order, add=[a])
    assert [t.name for t in resource_tags_change(resource=order, replace=[b], add=[c])] == [
        "b",
        "c",
    ]
    assert [t.name for t in resource_tags_change(resource=order, add=[a], remove=[a, b])] == ["c"]


def test_a_renamed_tag_is_renamed_everywhere_and_a_deleted_one_is_gone(order):
    vip = factories.TagFactory(name="vip")
    resource_tags_change(resource=order, add=[vip])
    tag_update(tag=vip, name="VIP-2")
    assert names(order) == ["vip-2"]
    tag_delete(tag=vip)
    assert names(order) == []
    assert not TaggedItem.objects.exists()


def test_names_must_exist_and_be_given(db):
    factories.TagFactory(name="vip")
    assert [t.name for t in tags_by_names(names="VIP, vip,", mode="test", key="_add_tags")] == [
        "vip"
    ]
    with pytest.raises(TagsNotFound) as refused:
        tags_by_names(names="vip,nope", mode="test", key="_add_tags")
    assert refused.value.errors == {"_add_tags": ["no tag named nope: create it first"]}
    with pytest.raises(TagsNotFound):
        tags_by_names(names=" , ", mode="test", key="_add_tags")
    with pytest.raises(TagsNotFound):
        tags_by_names(names="vip", mode="live", key="_add_tags")


def test_at_most_ten_tags(order):
    tags = factories.TagFactory.create_batch(11)
    resource_tags_change(resource=order, add=tags[:10])
    with pytest.raises(TooManyTags):
        resource_tags_change(resource=order, add=tags[10:])
    assert len(names(order)) == 10


@pytest.mark.django_db(transaction=True)
def test_two_writes_racing_to_tag_a_resource_never_pass_the_limit(postgres):
    """Each write alone stays within ten tags; together they would not. The second waits for
    the first (the resource's row lock) and counts its tags: refused, never eleven or more."""
    order = factories.OrderFactory()
    first, second = ([factories.TagFactory(name=f"{side}{n}") for n in range(6)] for side in "ab")
    holding, done = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def tag_and_hold() -> None:
        try:
            with transaction.atomic():
                resource_tags_change(resource=order, add=first)
                holding.set()
                done.wait(timeout=1)  # the second write runs meanwhile, or waits
            outcome["first"] = "tagged"
        finally:
            connection.close()

    thread = threading.Thread(target=tag_and_hold)
    thread.start()
    assert holding.wait(timeout=10)
    try:
        resource_tags_change(resource=order, add=second)
        outcome["second"] = "tagged"
    except TooManyTags:
        outcome["second"] = "refused"
    finally:
        done.set()
        thread.join(timeout=10)
    assert outcome == {"first": "tagged", "second": "refused"}
    assert sorted(names(order)) == sorted(tag.name for tag in first)
