"""The order_copies resource (SPEC.md §2): create, retrieve, list, update, triggers, delete."""

import pytest
from django_tasks_db.models import DBTaskResult

from events.models import Event
from ordercopies.models import OrderCopy
from ordercopies.services import order_copy_execute
from tests.api.conftest import assert_error, copy_document, fresh_copy, patch_document

EXECUTE_TASK = "ordercopies.tasks.order_copy_execute_task"
DEFAULT_OPTIONS = {
    "place_target_order": False,
    "reuse_wallet": True,
    "cancel_source_order": False,
    "apply_promotions": False,
    "skip_errors": False,
    "ignore_invalid_coupon": False,
}


def jobs_of(copy_id: str) -> list[DBTaskResult]:
    return [
        job
        for job in DBTaskResult.objects.filter(task_path=EXECUTE_TASK)
        if job.args_kwargs["args"] == [copy_id]
    ]


def events_of(copy_id: str) -> list[Event]:
    return list(Event.objects.filter(resource_id=copy_id).order_by("created_at", "id"))


def url(order_copy) -> str:
    return f"/api/order_copies/{order_copy.pk}"


# Create ---------------------------------------------------------------------------------------


def test_create_answers_201_with_a_pending_copy_and_default_options(api, make_order):
    source = make_order()
    response = api.post("/api/order_copies", copy_document(source.pk))
    assert response.status_code == 201, response.content
    resource = response.json()["data"]
    assert resource["type"] == "order_copies"
    assert len(resource["id"]) == 10 and resource["id"].isalnum()
    attributes = resource["attributes"]
    assert {name: attributes[name] for name in DEFAULT_OPTIONS} == DEFAULT_OPTIONS
    assert attributes["status"] == "pending"
    assert attributes["attempts"] == 0
    assert attributes["errors_count"] == 0
    assert attributes["errors_log"] == {}
    assert attributes["metadata"] == {}
    assert (attributes["started_at"], attributes["completed_at"], attributes["failed_at"]) == (
        None,
        None,
        None,
    )
    assert resource["relationships"]["source_order"]["data"] == {"type": "orders", "id": source.pk}
    assert resource["relationships"]["target_order"]["data"] is None
    assert resource["meta"]["mode"] == "test"
    stored = OrderCopy.objects.get(pk=resource["id"])
    assert (stored.status, stored.mode, stored.source_order_id) == ("pending", "test", source.pk)


def test_create_records_an_event_by_the_api_client_and_queues_a_job(api, make_order):
    source = make_order()
    response = api.post("/api/order_copies", copy_document(source.pk))
    copy_id = response.json()["data"]["id"]
    [event] = events_of(copy_id)
    assert event.name == "order_copies.create"
    assert (event.actor_kind, event.actor_id, event.actor_label) == (
        "api_client",
        api.api_client.pk,
        api.api_client.name,
    )
    assert event.payload == {"source_order": source.pk, "options": DEFAULT_OPTIONS}
    [job] = jobs_of(copy_id)
    assert job.status == "READY"
    shown = api.get(f"/api/order_copies/{copy_id}/events").json()["data"][0]["attributes"]
    assert shown["who"] == {
        "kind": "api_client",
        "id": api.api_client.pk,
        "label": api.api_client.name,
    }
    assert shown["resource"] == {"type": "order_copies", "id": copy_id}


def test_create_with_every_option_reference_and_metadata(api, make_order):
    source = make_order()
    options = {name: not value for name, value in DEFAULT_OPTIONS.items()}
    document = copy_document(
        source.pk, reference="R-1", reference_origin="erp", metadata={"batch": 7}, **options
    )
    response = api.post("/api/order_copies", document)
    assert response.status_code == 201, response.content
    attributes = response.json()["data"]["attributes"]
    assert {name: attributes[name] for name in options} == options
    assert (attributes["reference"], attributes["reference_origin"]) == ("R-1", "erp")
    assert attributes["metadata"] == {"batch": 7}
    stored = OrderCopy.objects.get(pk=response.json()["data"]["id"])
    assert stored.options() == options
    assert events_of(stored.pk)[0].payload["options"] == options


def test_a_created_copy_runs_like_any_other(api, make_order):
    source = make_order()
    copy_id = api.post("/api/order_copies", copy_document(source.pk)).json()["data"]["id"]
    order_copy_execute(order_copy_id=copy_id)
    resource = api.get(f"/api/order_copies/{copy_id}").json()["data"]
    assert resource["attributes"]["status"] == "completed"
    assert resource["attributes"]["attempts"] == 1
    assert resource["attributes"]["completed_at"].endswith("Z")
    target = resource["relationships"]["target_order"]["data"]
    assert target["type"] == "orders" and target["id"] != source.pk


@pytest.mark.parametrize("name", ["status", "attempts", "errors_count"])
def test_a_read_only_attribute_on_create_is_400_naming_it(api, make_order, name):
    document = copy_document(make_order().pk, **{name: 3})
    error = assert_error(
        api.post("/api/order_copies", document),
        400,
        "INVALID_RESOURCE",
        pointer=f"/data/attributes/{name}",
    )
    assert f"{name} is read-only" in error["detail"]
    assert not OrderCopy.objects.exists()


def test_a_read_only_relationship_on_create_is_400_naming_it(api, make_order):
    source = make_order()
    document = copy_document(source.pk)
    document["data"]["relationships"]["target_order"] = {
        "data": {"type": "orders", "id": source.pk}
    }
    response = api.post("/api/order_copies", document)
    assert_error(response, 400, "INVALID_RESOURCE", pointer="/data/relationships/target_order")
    assert not OrderCopy.objects.exists()


def test_a_trigger_on_create_is_422(api, make_order):
    response = api.post("/api/order_copies", copy_document(make_order().pk, _abort=True))
    error = assert_error(response, 422, "VALIDATION_ERROR", pointer="/data")
    assert "triggers apply to existing copies" in error["detail"]
    assert not OrderCopy.objects.exists()
    assert not DBTaskResult.objects.filter(task_path=EXECUTE_TASK).exists()


# Retrieve and list -------------------------------------------------------------------------------


def test_retrieve_shows_a_failed_copy_s_errors(api, failed_copy):
    attributes = api.get(url(failed_copy)).json()["data"]["attributes"]
    assert attributes["status"] == "failed"
    assert attributes["failed_at"].endswith("Z")
    assert attributes["errors_count"] == failed_copy.errors_count > 0
    assert attributes["errors_log"] == failed_copy.errors_log
    assert "line_items" in attributes["errors_log"]


def test_the_list_is_newest_first(api, make_order, make_copy):
    source = make_order()
    made = [make_copy(source).pk for _ in range(3)]
    listed = [r["id"] for r in api.get("/api/order_copies").json()["data"]]
    assert listed == made[::-1]


# Update -------------------------------------------------------------------------------------------


def test_update_changes_reference_and_metadata(api, make_order, make_copy):
    order_copy = make_copy(make_order())
    document = patch_document(
        "order_copies", order_copy.pk, reference="new", reference_origin="crm", metadata={"k": 1}
    )
    response = api.patch(url(order_copy), document)
    assert response.status_code == 200, response.content
    attributes = response.json()["data"]["attributes"]
    assert (attributes["reference"], attributes["reference_origin"]) == ("new", "crm")
    assert attributes["metadata"] == {"k": 1}
    stored = fresh_copy(order_copy)
    assert (stored.reference, stored.metadata, stored.status) == ("new", {"k": 1}, "pending")
    update = events_of(order_copy.pk)[-1]
    assert update.name == "order_copies.update"
    assert update.payload == {"changed": ["metadata", "reference", "reference_origin"]}
    assert update.actor_id == api.api_client.pk


@pytest.mark.parametrize("option", sorted(DEFAULT_OPTIONS))
def test_update_of_an_option_is_422(api, make_order, make_copy, option):
    order_copy = make_copy(make_order())
    document = patch_document(
        "order_copies", order_copy.pk, **{option: not DEFAULT_OPTIONS[option]}
    )
    response = api.patch(url(order_copy), document)
    error = assert_error(response, 422, "VALIDATION_ERROR", pointer=f"/data/attributes/{option}")
    assert error["detail"] == f"{option} - cannot be changed once the copy exists"
    assert getattr(fresh_copy(order_copy), option) == DEFAULT_OPTIONS[option]


def test_update_of_the_source_order_is_422(api, make_order, make_copy):
    source, other = make_order(), make_order()
    order_copy = make_copy(source)
    document = patch_document("order_copies", order_copy.pk)
    document["data"]["relationships"] = {
        "source_order": {"data": {"type": "orders", "id": other.pk}}
    }
    response = api.patch(url(order_copy), document)
    assert_error(response, 422, "VALIDATION_ERROR", pointer="/data/relationships/source_order")
    assert fresh_copy(order_copy).source_order_id == source.pk


def test_an_update_of_the_status_is_400_and_changes_nothing(api, make_order, make_copy):
    order_copy = make_copy(make_order())
    response = api.patch(
        url(order_copy),
        patch_document("order_copies", order_copy.pk, status="completed", reference="kept out"),
    )
    assert_error(response, 400, "INVALID_RESOURCE", pointer="/data/attributes/status")
    assert (fresh_copy(order_copy).status, fresh_copy(order_copy).reference) == ("pending", "")


# Triggers -----------------------------------------------------------------------------------------


def test_retry_sends_a_failed_copy_back_to_pending_and_queues_it(api, failed_copy):
    previous = failed_copy.errors_log
    jobs_before = len(jobs_of(failed_copy.pk))
    response = api.patch(
        url(failed_copy), patch_document("order_copies", failed_copy.pk, _retry=True)
    )
    assert response.status_code == 200, response.content
    attributes = response.json()["data"]["attributes"]
    assert attributes["status"] == "pending"
    assert (attributes["errors_log"], attributes["errors_count"], attributes["failed_at"]) == (
        {},
        0,
        None,
    )
    assert "_retry" not in attributes
    assert fresh_copy(failed_copy).status == "pending"
    assert len(jobs_of(failed_copy.pk)) == jobs_before + 1
    retry = events_of(failed_copy.pk)[-1]
    assert retry.name == "order_copies.retry"
    assert retry.payload == {"previous_errors": previous}
    assert retry.actor_kind == "api_client"


def test_retry_of_an_aborted_copy(api, make_order, make_copy):
    order_copy = make_copy(make_order())
    api.patch(url(order_copy), patch_document("order_copies", order_copy.pk, _abort=True))
    response = api.patch(
        url(order_copy), patch_document("order_copies", order_copy.pk, _retry=True)
    )
    assert response.json()["data"]["attributes"]["status"] == "pending"


@pytest.mark.parametrize("fixture", ["completed_copy", "in_progress_copy", "pending"])
def test_retry_of_a_copy_that_did_not_fail_is_422(api, request, make_order, make_copy, fixture):
    order_copy = (
        make_copy(make_order()) if fixture == "pending" else request.getfixturevalue(fixture)
    )
    status = fresh_copy(order_copy).status
    response = api.patch(
        url(order_copy), patch_document("order_copies", order_copy.pk, _retry=True)
    )
    error = assert_error(response, 422, "COPY_NOT_RETRYABLE", pointer="/data/attributes/status")
    if fixture != "in_progress_copy":
        assert error["detail"] == (
            f"status - only failed or aborted copies can be retried; this one is {status}"
        )
    assert fresh_copy(order_copy).status == status


def test_abort_stops_a_pending_copy(api, make_order, make_copy):
    order_copy = make_copy(make_order())
    response = api.patch(
        url(order_copy), patch_document("order_copies", order_copy.pk, _abort=True)
    )
    assert response.status_code == 200
    assert response.json()["data"]["attributes"]["status"] == "aborted"
    assert fresh_copy(order_copy).status == "aborted"
    assert events_of(order_copy.pk)[-1].name == "order_copies.abort"


@pytest.mark.parametrize("fixture", ["completed_copy", "failed_copy", "in_progress_copy"])
def test_abort_of_a_copy_that_is_not_pending_is_422(api, request, fixture):
    order_copy = request.getfixturevalue(fixture)
    status = fresh_copy(order_copy).status
    response = api.patch(
        url(order_copy), patch_document("order_copies", order_copy.pk, _abort=True)
    )
    assert_error(response, 422, "COPY_NOT_ABORTABLE", pointer="/data/attributes/status")
    assert fresh_copy(order_copy).status == status


def test_two_triggers_at_once_are_422(api, failed_copy):
    document = patch_document("order_copies", failed_copy.pk, _retry=True, _abort=True)
    error = assert_error(api.patch(url(failed_copy), document), 422, "VALIDATION_ERROR")
    assert "one trigger at a time" in error["detail"]
    assert fresh_copy(failed_copy).status == "failed"


def test_a_false_trigger_does_nothing(api, failed_copy):
    response = api.patch(
        url(failed_copy), patch_document("order_copies", failed_copy.pk, _retry=False)
    )
    assert response.status_code == 200
    assert fresh_copy(failed_copy).status == "failed"


def test_a_trigger_with_a_non_boolean_is_422(api, failed_copy):
    document = patch_document("order_copies", failed_copy.pk, _retry="please")
    assert_error(
        api.patch(url(failed_copy), document),
        422,
        "VALIDATION_ERROR",
        pointer="/data/attributes/_retry",
    )


# Delete -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["completed_copy", "failed_copy", "pending"])
def test_delete_answers_204_and_removes_the_copy(api, request, make_order, make_copy, fixture):
    order_copy = (
        make_copy(make_order()) if fixture == "pending" else request.getfixturevalue(fixture)
    )
    response = api.delete(url(order_copy))
    assert response.status_code == 204
    assert response.content == b""
    assert not OrderCopy.objects.filter(pk=order_copy.pk).exists()
    assert events_of(order_copy.pk)[-1].name == "order_copies.destroy"
    assert_error(api.get(url(order_copy)), 404, "RECORD_NOT_FOUND")


def test_delete_of_a_copy_in_progress_is_423(api, in_progress_copy):
    assert_error(api.delete(url(in_progress_copy)), 423, "LOCKED")
    assert fresh_copy(in_progress_copy).status == "in_progress"


def test_a_refused_trigger_leaves_the_changes_sent_with_it_unsaved(api, completed_copy):
    document = patch_document("order_copies", completed_copy.pk, reference="new", _retry=True)
    assert_error(api.patch(url(completed_copy), document), 422, "COPY_NOT_RETRYABLE")
    assert fresh_copy(completed_copy).reference == ""


def test_create_with_plan_answers_the_plan_and_writes_nothing(api, make_order):
    source = make_order(lines=2)
    line = source.line_items.filter(item_type="skus").first()
    line.sku.stock_quantity = 0
    line.sku.save()
    copies_before, events_before = OrderCopy.objects.count(), Event.objects.count()

    response = api.post("/api/order_copies", copy_document(source.pk, _plan=True, skip_errors=True))

    assert response.status_code == 200, response.content
    document = response.json()
    assert document["data"] is None
    plan = document["meta"]["plan"]
    assert plan["status"] == "completed"
    assert plan["errors_log"] == {"line_items": [f"SKU {line.sku.code} is out of stock"]}
    assert plan["options"]["skip_errors"] is True
    outcomes = sorted(line["outcome"] for line in plan["line_items"])
    assert outcomes == ["copied", "left_out"]
    assert plan["target_order"]["status"] == "pending"
    assert (OrderCopy.objects.count(), Event.objects.count()) == (copies_before, events_before)
    assert not DBTaskResult.objects.exists()


def test_a_plan_of_an_order_of_another_mode_is_refused_like_the_copy(api, make_order):
    from tests import factories

    other = factories.OrderFactory(mode="live")
    planned = api.post("/api/order_copies", copy_document(other.pk, _plan=True))
    copied = api.post("/api/order_copies", copy_document(other.pk))
    assert planned.status_code == copied.status_code >= 400, planned.content

    def without_trace(errors):  # each request has its own trace id
        return [
            {**e, "meta": {k: v for k, v in e["meta"].items() if k != "trace_id"}} for e in errors
        ]

    assert without_trace(planned.json()["errors"]) == without_trace(copied.json()["errors"])
