"""What the subscription services share: the row lock, transitions, validation of settings."""

from datetime import UTC, datetime
from typing import Any

from django.utils import timezone
from django_fsm import TransitionNotAllowed

from subscriptions.exceptions import SubscriptionTransitionRefused
from subscriptions.frequencies import InvalidFrequency, frequency_clean
from subscriptions.models import RENEWAL_ALERT_HOURS, OrderSubscription

TARGETS = {
    "activate": "active",
    "activate_by_placement": "active",
    "deactivate": "inactive",
    "expire": "inactive",
    "cancel": "cancelled",
    "start_run": "running",
}


def lock(subscription: OrderSubscription | str) -> OrderSubscription:
    """The subscription's row, locked until the end of the caller's transaction."""
    pk = subscription.pk if isinstance(subscription, OrderSubscription) else subscription
    return OrderSubscription.objects.select_for_update(of=("self",)).get(pk=pk)


def transition(subscription: OrderSubscription, name: str, **kwargs: Any) -> None:
    try:
        getattr(subscription, name)(**kwargs)
    except TransitionNotAllowed:
        target = TARGETS.get(name, name)
        raise SubscriptionTransitionRefused(
            f"cannot transition from {subscription.status} to {target}"
        ) from None


def iso(moment: datetime | None) -> str | None:
    """A timestamp as the API writes it: ISO 8601 UTC with Z."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def settings_clean(
    values: dict[str, Any], *, changed: set[str]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """`values` (frequency, renewal_alert_period, starts_at, expires_at) as stored, and what is
    wrong with them. Past dates are refused only where they are `changed`."""
    cleaned, errors = dict(values), {}
    try:
        cleaned["frequency"] = frequency_clean(values["frequency"])
    except InvalidFrequency as exc:
        errors["frequency"] = [str(exc)]
    period = values["renewal_alert_period"]
    low, high = RENEWAL_ALERT_HOURS
    if period is not None and not low <= period <= high:
        errors["renewal_alert_period"] = [f"renewal_alert_period must be between {low} and {high}"]
    starts_at, expires_at = values["starts_at"], values["expires_at"]
    if starts_at is not None and expires_at is not None and expires_at <= starts_at:
        errors["expires_at"] = ["expires_at must be after starts_at"]
    elif "expires_at" in changed and expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = ["expires_at must be in the future"]
    return cleaned, errors
