"""OrderCopy's status machine, in memory: no test here touches the database."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django_fsm import TransitionNotAllowed

from ordercopies.models import OrderCopy
from orders.models import Order

Status = OrderCopy.Status
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)
ERRORS = {"line_items": ["SKU A is out of stock", "SKU B is disabled"], "coupon_code": ["expired"]}

# The moves SPEC.md §2 allows: transition → statuses it may start from.
ALLOWED = {
    "start": {Status.PENDING},
    "complete": {Status.IN_PROGRESS},
    "fail": {Status.IN_PROGRESS},
    "abort": {Status.PENDING, Status.IN_PROGRESS},
    "release": {Status.IN_PROGRESS},
    "retry": {Status.FAILED, Status.ABORTED},
}
FORBIDDEN = [
    (name, status)
    for name, sources in ALLOWED.items()
    for status in Status
    if status not in sources
]


def transition_kwargs(name: str) -> dict[str, Any]:
    return {
        "start": {"at": NOW},
        "complete": {"at": NOW, "target": Order(number="T1", currency_code="EUR"), "errors": {}},
        "fail": {"at": NOW, "errors": ERRORS},
        "abort": {},
        "release": {},
        "retry": {},
    }[name]


def copy_in(status: str, **fields: Any) -> OrderCopy:
    """An unsaved copy that is in `status` (set at construction, the only time it may be set)."""
    return OrderCopy(status=status, source_order_id="SRC0000001", **fields)


def test_a_new_copy_is_pending_with_no_attempt_and_no_errors():
    order_copy = OrderCopy(source_order_id="SRC0000001")

    assert order_copy.status == Status.PENDING
    assert order_copy.attempts == 0
    assert order_copy.errors_log == {}
    assert order_copy.errors_count == 0


def test_start_moves_to_in_progress_stamps_started_at_and_counts_an_attempt():
    order_copy = OrderCopy(source_order_id="SRC0000001")

    order_copy.start(at=NOW)

    assert order_copy.status == Status.IN_PROGRESS
    assert order_copy.started_at == NOW
    assert order_copy.attempts == 1


def test_each_start_counts_one_more_attempt_and_restamps_started_at():
    order_copy = copy_in(Status.PENDING, attempts=2, started_at=NOW)

    order_copy.start(at=LATER)

    assert order_copy.attempts == 3
    assert order_copy.started_at == LATER


def test_complete_stamps_completed_at_links_the_target_and_keeps_logged_errors():
    order_copy = copy_in(Status.IN_PROGRESS, started_at=NOW, attempts=1)
    target = Order(number="T1", currency_code="EUR")

    order_copy.complete(at=LATER, target=target, errors=ERRORS)

    assert order_copy.status == Status.COMPLETED
    assert order_copy.completed_at == LATER
    assert order_copy.target_order is target
    assert order_copy.errors_log == ERRORS
    assert order_copy.errors_count == 3
    assert order_copy.failed_at is None


def test_complete_without_errors_has_an_empty_log():
    order_copy = copy_in(Status.IN_PROGRESS, started_at=NOW, attempts=1)

    order_copy.complete(at=LATER, target=Order(number="T1", currency_code="EUR"), errors={})

    assert order_copy.errors_log == {}
    assert order_copy.errors_count == 0


def test_fail_stamps_failed_at_and_counts_messages_across_all_keys():
    order_copy = copy_in(Status.IN_PROGRESS, started_at=NOW, attempts=1)

    order_copy.fail(at=LATER, errors=ERRORS)

    assert order_copy.status == Status.FAILED
    assert order_copy.failed_at == LATER
    assert order_copy.errors_log == ERRORS
    assert order_copy.errors_count == 3  # two messages under line_items, one under coupon_code
    assert order_copy.completed_at is None
    assert order_copy.target_order_id is None


def test_abort_stops_a_pending_copy():
    order_copy = copy_in(Status.PENDING)

    order_copy.abort()

    assert order_copy.status == Status.ABORTED
    assert order_copy.errors_log == {}
    assert order_copy.errors_count == 0


def test_abort_stops_an_in_progress_copy_with_its_reason():
    order_copy = copy_in(Status.IN_PROGRESS, started_at=NOW, attempts=3)
    reason = {"base": ["the worker running this copy was lost 3 times; aborted"]}

    order_copy.abort(errors=reason)

    assert order_copy.status == Status.ABORTED
    assert order_copy.errors_log == reason
    assert order_copy.errors_count == 1
    assert order_copy.attempts == 3


def test_release_sends_an_in_progress_copy_back_to_pending_keeping_its_attempts():
    order_copy = copy_in(Status.IN_PROGRESS, started_at=NOW, attempts=2)

    order_copy.release()

    assert order_copy.status == Status.PENDING
    assert order_copy.attempts == 2


@pytest.mark.parametrize("status", [Status.FAILED, Status.ABORTED])
def test_retry_sends_the_copy_back_to_pending_and_clears_its_errors(status):
    order_copy = copy_in(
        status,
        started_at=NOW,
        failed_at=LATER if status == Status.FAILED else None,
        attempts=1,
        errors_log=ERRORS,
        errors_count=3,
    )

    order_copy.retry()

    assert order_copy.status == Status.PENDING
    assert order_copy.failed_at is None
    assert order_copy.errors_log == {}
    assert order_copy.errors_count == 0
    assert order_copy.attempts == 1  # the next start counts the new attempt


def test_a_retried_copy_can_run_again():
    order_copy = copy_in(
        Status.FAILED, failed_at=NOW, attempts=1, errors_log=ERRORS, errors_count=3
    )

    order_copy.retry()
    order_copy.start(at=LATER)

    assert order_copy.status == Status.IN_PROGRESS
    assert order_copy.attempts == 2


@pytest.mark.parametrize(
    ("name", "status"), FORBIDDEN, ids=[f"{name}-from-{status}" for name, status in FORBIDDEN]
)
def test_a_forbidden_transition_raises_and_changes_nothing(name, status):
    order_copy = copy_in(status, attempts=1)

    with pytest.raises(TransitionNotAllowed):
        getattr(order_copy, name)(**transition_kwargs(name))

    assert order_copy.status == status
    assert order_copy.attempts == 1
    assert order_copy.errors_count == 0


@pytest.mark.parametrize(
    ("name", "status"),
    [(name, status) for name, sources in ALLOWED.items() for status in sources],
)
def test_every_allowed_transition_succeeds(name, status):
    order_copy = copy_in(status)

    getattr(order_copy, name)(**transition_kwargs(name))

    assert order_copy.status != status


@pytest.mark.parametrize(
    ("status", "name", "kwargs"),
    [
        (Status.COMPLETED, "retry", {}),
        (Status.PENDING, "complete", {"at": NOW, "target": None, "errors": {}}),
        (Status.FAILED, "start", {"at": NOW}),
        (Status.COMPLETED, "abort", {}),
        (Status.ABORTED, "release", {}),
    ],
    ids=[
        "completed-to-pending",
        "pending-to-completed",
        "failed-to-in_progress",
        "completed-to-aborted",
        "aborted-to-pending-by-release",
    ],
)
def test_the_moves_the_spec_forbids_raise(status, name, kwargs):
    order_copy = copy_in(status)

    with pytest.raises(TransitionNotAllowed):
        getattr(order_copy, name)(**kwargs)

    assert order_copy.status == status


@pytest.mark.parametrize("status", list(Status))
def test_status_cannot_be_assigned_directly(status):
    order_copy = copy_in(Status.PENDING)

    with pytest.raises(AttributeError):
        order_copy.status = status

    assert order_copy.status == Status.PENDING


def test_options_lists_the_six_flags_with_their_values():
    order_copy = OrderCopy(source_order_id="SRC0000001", place_target_order=True, skip_errors=True)

    assert order_copy.options() == {
        "place_target_order": True,
        "reuse_wallet": True,
        "cancel_source_order": False,
        "apply_promotions": False,
        "skip_errors": True,
        "ignore_invalid_coupon": False,
    }
