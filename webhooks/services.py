"""Every write of webhooks: the webhooks themselves, the outbox, and the delivery of one row.

The outbox: `webhook_deliveries_record` runs inside the transaction that records events
(events/services.py calls it), so a delivery exists exactly when its event committed. A worker
(`webhook_delivery_attempt_next`) claims one due delivery with SKIP LOCKED and keeps it locked
while it calls the receiver: a worker killed mid-call loses its lock and its transaction, and the
delivery is due again for the next worker (at least once; its id, sent in the headers, is the
same every time). The circuit counts consecutive failed calls of a webhook; at
WEBHOOKS_CIRCUIT_THRESHOLD it opens and its deliveries wait, unclaimed, until `_reset_circuit`.
"""

import json
import logging
import random
import uuid
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from api.models import ApiClient
from events.models import Event
from webhooks import outbound
from webhooks.exceptions import InvalidIncludeResources, NothingToDeliver, UnknownTopic
from webhooks.models import EventCallback, Webhook, WebhookDelivery
from webhooks.payloads import body_of, payload_render
from webhooks.topics import TOPICS

logger = logging.getLogger("webhooks.delivery")

Status = WebhookDelivery.Status
Circuit = Webhook.Circuit


# --- The outbox -------------------------------------------------------------------------------


def webhook_deliveries_record(events: list[Event]) -> list[WebhookDelivery]:
    """The deliveries of `events` to the enabled webhooks listening to them, in the caller's
    transaction: one query when no webhook listens, two otherwise."""
    if not events:
        return []
    listening = Webhook.objects.filter(
        topic__in={event.name for event in events},
        mode__in={event.mode for event in events},
        disabled_at__isnull=True,
    ).values_list("pk", "topic", "mode")
    by_topic: dict[tuple[str, str], list[str]] = {}
    for pk, topic, mode in listening:
        by_topic.setdefault((topic, mode), []).append(pk)
    now = timezone.now()
    deliveries = [
        WebhookDelivery(
            webhook_id=webhook_id,
            event_id=event.pk,
            mode=event.mode,
            next_attempt_at=now,
            created_at=now,
        )
        for event in events
        for webhook_id in by_topic.get((event.name, event.mode), [])
    ]
    return WebhookDelivery.objects.bulk_create(deliveries) if deliveries else []


@transaction.atomic
def event_trigger(*, event: Event) -> list[WebhookDelivery]:
    """Fire `event` again: each enabled webhook listening to it gets a new delivery. Refused
    when none listens (firing it would do nothing)."""
    deliveries = webhook_deliveries_record([event])
    if not deliveries:
        raise NothingToDeliver(
            f"no enabled webhook of {event.mode} mode listens to {event.name}: nothing to deliver"
        )
    return deliveries


@transaction.atomic
def webhook_delivery_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """A new delivery of the same event to the same webhook, due now (a new delivery id: the
    receiver does not take it for a retry it has already seen)."""
    now = timezone.now()
    return WebhookDelivery.objects.create(
        webhook_id=delivery.webhook_id,
        event_id=delivery.event_id,
        mode=delivery.mode,
        next_attempt_at=now,
        created_at=now,
    )


# --- Webhooks ---------------------------------------------------------------------------------


def webhook_check(*, mode: str, topic: str, callback_url: str, include_resources: Any) -> None:
    """What a webhook must be to be saved: a topic of a resource of the API, a safe callback
    URL (scheme and addresses), and include paths the API can include from that resource."""
    from api import policy
    from api.exceptions import InvalidResource
    from api.urls import RESOURCES

    if topic not in TOPICS:
        raise UnknownTopic(
            f"{topic[:80]} is not a topic: use an event name the service records, e.g. "
            "order_copies.complete, order_copies.fail, orders.place (see the README)"
        )
    resource_type = topic.partition(".")[0]
    outbound.check_scheme(callback_url, mode=mode)
    outbound.check_resolvable_addresses(callback_url)
    if not isinstance(include_resources, list) or not all(
        isinstance(path, str) for path in include_resources
    ):
        raise InvalidIncludeResources("must be a list of relationship paths")
    try:
        policy.check_includes(
            RESOURCES[resource_type].serializer_class,
            ",".join(include_resources),
            grant=SimpleNamespace(kind="integration"),  # type: ignore[arg-type]
        )
    except InvalidResource as exc:
        raise InvalidIncludeResources(str(exc.detail)) from None


@transaction.atomic
def webhook_create(
    *,
    mode: str,
    topic: str,
    callback_url: str,
    owner: ApiClient | None = None,
    name: str = "",
    include_resources: list[str] | None = None,
    **common: Any,
) -> Webhook:
    include_resources = include_resources or []
    webhook_check(
        mode=mode, topic=topic, callback_url=callback_url, include_resources=include_resources
    )
    return Webhook.objects.create(
        mode=mode,
        topic=topic,
        callback_url=callback_url,
        owner=owner,
        name=name,
        include_resources=include_resources,
        **common,
    )


UPDATABLE = frozenset({"name", "topic", "callback_url", "include_resources"}) | frozenset(
    {"reference", "reference_origin", "metadata"}
)


@transaction.atomic
def webhook_update(*, webhook: Webhook, **changes: Any) -> Webhook:
    locked = Webhook.objects.select_for_update().get(pk=webhook.pk)
    for name, value in changes.items():
        setattr(locked, name, value)
    webhook_check(
        mode=locked.mode,
        topic=locked.topic,
        callback_url=locked.callback_url,
        include_resources=locked.include_resources,
    )
    locked.save(update_fields=[*changes, "updated_at"])
    return locked


def _set(webhook: Webhook, **values: Any) -> Webhook:
    Webhook.objects.filter(pk=webhook.pk).update(**values, updated_at=timezone.now())
    return Webhook.objects.get(pk=webhook.pk)


def webhook_disable(*, webhook: Webhook) -> Webhook:
    """No delivery is written for a disabled webhook; those already written wait for it."""
    return _set(webhook, disabled_at=webhook.disabled_at or timezone.now())


def webhook_enable(*, webhook: Webhook) -> Webhook:
    return _set(webhook, disabled_at=None)


def webhook_reset_circuit(*, webhook: Webhook) -> Webhook:
    """Close the circuit: the deliveries that waited are due again at once."""
    with transaction.atomic():
        webhook = _set(webhook, circuit_state=Circuit.CLOSED, circuit_failure_count=0)
        WebhookDelivery.objects.filter(webhook=webhook, status=Status.PENDING).update(
            next_attempt_at=timezone.now()
        )
    return webhook


def webhook_delete(*, webhook: Webhook) -> None:
    webhook.delete()


# --- Delivery ---------------------------------------------------------------------------------


def retry_delay(attempts: int) -> float:
    """Seconds before the next attempt after `attempts` failed ones: exponential, capped, with
    "equal jitter" (half fixed, half random), so delays never shrink from one retry to the next
    and workers retrying together spread out."""
    delay = min(settings.WEBHOOKS_RETRY_BASE * 2 ** (attempts - 1), settings.WEBHOOKS_RETRY_MAX)
    return delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 (not for secrets)


def webhook_delivery_attempt_next(*, now: datetime | None = None) -> WebhookDelivery | None:
    """Claim the next due delivery, call its receiver and record the answer, in one
    transaction that keeps the delivery locked. None when nothing is due."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("webhook", "event")
            .filter(
                status=Status.PENDING,
                next_attempt_at__lte=now or timezone.now(),
                webhook__disabled_at__isnull=True,
                webhook__circuit_state=Circuit.CLOSED,
            )
            .order_by("next_attempt_at")
            .first()
        )
        if delivery is None:
            return None
        _attempt(delivery)
        return delivery


def _attempt(delivery: WebhookDelivery) -> None:
    webhook, event = delivery.webhook, delivery.event
    if not delivery.body:
        delivery.body = _render(delivery)
    body = delivery.body.encode()
    headers = {
        "Content-Type": "application/vnd.api+json",
        "User-Agent": "ordercopies-webhooks/1",
        outbound.SIGNATURE_HEADER: outbound.signature_of(body, secret=webhook.shared_secret),
        outbound.TOPIC_HEADER: webhook.topic,
        outbound.EVENT_ID_HEADER: event.pk,
        outbound.DELIVERY_ID_HEADER: delivery.pk,
    }
    answer = outbound.post(webhook.callback_url, body=body, headers=headers)
    EventCallback.objects.create(
        mode=delivery.mode,
        webhook=webhook,
        delivery=delivery,
        callback_url=webhook.callback_url,
        payload=_parsed(delivery.body),
        response_code=answer.code,
        response_message=answer.message,
        duration_ms=answer.duration_ms,
    )
    _record_outcome(delivery, answer)
    _count_for_circuit(webhook, succeeded=answer.succeeded)


def _render(delivery: WebhookDelivery) -> str:
    try:
        document = payload_render(
            event=delivery.event, include_resources=delivery.webhook.include_resources
        )
    except Exception:
        # A bug of ours, not of the receiver's: sent as the identifiers, with an incident id.
        incident = uuid.uuid4().hex[:12]
        logger.exception("incident %s: rendering delivery %s", incident, delivery.pk)
        document = {
            "data": {"id": delivery.event.resource_id, "type": delivery.event.resource_type},
            "meta": {"incident": incident},
        }
    return body_of(document)


def _parsed(body: str) -> Any:
    return json.loads(body)


DELIVERY_OUTCOME_FIELDS = ["status", "attempts", "body", "last_error", "next_attempt_at"]
DELIVERY_OUTCOME_FIELDS += ["delivered_at"]


def _record_outcome(delivery: WebhookDelivery, answer: outbound.Answer) -> None:
    now = timezone.now()
    delivery.attempts += 1
    if answer.succeeded:
        delivery.status, delivery.delivered_at, delivery.last_error = Status.DELIVERED, now, ""
    else:
        delivery.last_error = f"{answer.code} {answer.message}".strip()
        if delivery.attempts > settings.WEBHOOKS_MAX_RETRIES:
            delivery.status = Status.FAILED
        else:
            delivery.next_attempt_at = now + timedelta(seconds=retry_delay(delivery.attempts))
    delivery.save(update_fields=DELIVERY_OUTCOME_FIELDS)
    level = logging.INFO if answer.succeeded else logging.WARNING
    logger.log(
        level,
        "delivery %s of %s to %s: %s (attempt %d, %s)",
        delivery.pk,
        delivery.event.name,
        delivery.webhook.callback_url,
        answer.code or "no answer",
        delivery.attempts,
        delivery.status,
    )


def _count_for_circuit(webhook: Webhook, *, succeeded: bool) -> None:
    """One atomic UPDATE: concurrent workers count every failure, and the first success resets
    the count."""
    rows = Webhook.objects.filter(pk=webhook.pk)
    if succeeded:
        rows.exclude(circuit_failure_count=0).update(circuit_failure_count=0)
        return
    threshold = settings.WEBHOOKS_CIRCUIT_THRESHOLD
    rows.update(
        circuit_failure_count=F("circuit_failure_count") + 1,
        circuit_state=Case(
            When(circuit_failure_count__gte=threshold - 1, then=Value(Circuit.OPEN)),
            default=F("circuit_state"),
        ),
    )
