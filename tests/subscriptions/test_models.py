"""The subscription's state machine and run bookkeeping, in memory: no database."""

from datetime import UTC, datetime, timedelta

import pytest
from django_fsm import TransitionNotAllowed

from subscriptions.models import OrderSubscription

Status = OrderSubscription.Status
T0 = datetime(2025, 1, 31, 8, tzinfo=UTC)


def subscription(status: str = Status.DRAFT, **fields: object) -> OrderSubscription:
    fields.setdefault("frequency", "monthly")
    fields.setdefault("starts_at", T0)
    return OrderSubscription(status=status, **fields)


ALLOWED = {
    "activate": {Status.DRAFT, Status.INACTIVE},
    "deactivate": {Status.ACTIVE},
    "start_run": {Status.ACTIVE},
    "cancel": {Status.DRAFT, Status.ACTIVE, Status.INACTIVE, Status.RUNNING},
}
ARGUMENTS: dict[str, dict[str, object]] = {"activate": {"next_run_at": T0}}


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("name", list(ALLOWED))
def test_the_machine_allows_only_the_moves_of_the_spec(name, status):
    target = subscription(status)
    if status in ALLOWED[name]:
        getattr(target, name)(**ARGUMENTS.get(name, {}))
    else:
        with pytest.raises(TransitionNotAllowed):
            getattr(target, name)(**ARGUMENTS.get(name, {}))


def test_a_run_ends_active_or_inactive_when_expired() -> None:
    running = subscription(Status.RUNNING)
    running.end_run(expired=False)
    assert running.status == Status.ACTIVE
    expired = subscription(Status.RUNNING)
    expired.end_run(expired=True)
    assert expired.status == Status.INACTIVE
    with pytest.raises(TransitionNotAllowed):
        subscription(Status.ACTIVE).end_run(expired=False)


def test_the_placement_is_the_first_run() -> None:
    draft = subscription(starts_at=None)
    draft.activate_by_placement(placed_at=T0, next_run_at=T0 + timedelta(days=28))
    assert draft.status == Status.ACTIVE
    assert (draft.starts_at, draft.last_run_at, draft.occurrencies) == (T0, T0, 1)
    assert draft.succeeded_on_last_run is True
    with pytest.raises(TransitionNotAllowed):
        subscription(Status.INACTIVE).activate_by_placement(placed_at=T0, next_run_at=T0)


def test_record_run_counts_runs_and_errors() -> None:
    active = subscription(Status.RUNNING)
    active.record_run(started_at=T0, succeeded=False)
    active.record_run(started_at=T0 + timedelta(days=1), succeeded=True)
    assert (active.occurrencies, active.errors_count) == (2, 1)
    assert (active.succeeded_on_last_run, active.last_run_at) == (True, T0 + timedelta(days=1))


def test_run_times_come_from_the_anchor() -> None:
    monthly = subscription(Status.ACTIVE)
    assert monthly.run_time_after(T0) == datetime(2025, 2, 28, 8, tzinfo=UTC)
    assert monthly.run_time_after(datetime(2025, 2, 28, 8, tzinfo=UTC)) == (
        datetime(2025, 3, 31, 8, tzinfo=UTC)
    )
    assert monthly.is_expired(T0) is False
    monthly.expires_at = T0
    assert monthly.is_expired(T0) is True
