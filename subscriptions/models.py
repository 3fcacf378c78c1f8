from datetime import datetime

from django.contrib.contenttypes.fields import GenericRelation
from django.db import models
from django.db.models import Q
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition

from core.models import Resource
from ordercopies.models import OrderCopy
from orders.models import Customer, CustomerPaymentSource, Market, Order
from subscriptions.frequencies import frequency_next

RENEWAL_ALERT_HOURS = (1, 720)


class OrderSubscriptionNumber(models.Model):
    """Hands out increasing subscription numbers without locking: one row per number taken."""

    id = models.BigAutoField(primary_key=True)

    def __str__(self) -> str:
        return str(self.pk)


class OrderSubscription(ConcurrentTransitionMixin, Resource):
    """Repeats its source order at its frequency, one order copy per run (SPEC.md §4)."""

    resource_type = "order_subscriptions"

    class Status(models.TextChoices):
        DRAFT = "draft"
        ACTIVE = "active"
        INACTIVE = "inactive"
        RUNNING = "running"
        CANCELLED = "cancelled"

    number = models.CharField(max_length=20, unique=True, editable=False)
    status = FSMField(default=Status.DRAFT, choices=Status.choices, protected=True, db_index=True)
    frequency = models.CharField(
        max_length=100,
        help_text="hourly, daily, weekly, monthly, two-month, three-month, four-month, six-month, "
        "yearly, or a cron expression in UTC whose minute field is one value, e.g. '0 9 * * 1'.",
    )
    activate_by_source_order = models.BooleanField(
        default=True, help_text="Placing the source order activates it and counts as the first run."
    )
    place_target_order = models.BooleanField(default=True)
    renewal_alert_period = models.PositiveIntegerField(
        null=True, blank=True, help_text="Hours before each run to record a renewal alert (1–720)."
    )
    starts_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True, editable=False)
    next_run_at = models.DateTimeField(null=True, blank=True)
    occurrencies = models.PositiveIntegerField(default=0, editable=False)
    errors_count = models.PositiveIntegerField(default=0, editable=False)
    succeeded_on_last_run = models.BooleanField(null=True, blank=True, editable=False)
    renewal_alert_for = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="The run the last renewal alert was for."
    )
    customer_email = models.EmailField(blank=True, default="", editable=False)
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="order_subscriptions")
    source_order = models.ForeignKey(
        Order, on_delete=models.PROTECT, related_name="order_subscriptions"
    )
    customer = models.ForeignKey(
        Customer,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="order_subscriptions",
        editable=False,
    )
    customer_payment_source = models.ForeignKey(
        CustomerPaymentSource,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="order_subscriptions",
    )
    # Its tags (tags/): the attachments go with the row.
    tag_links = GenericRelation("tags.TaggedItem")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_run_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(renewal_alert_period__isnull=True)
                | Q(renewal_alert_period__gte=RENEWAL_ALERT_HOURS[0])
                & Q(renewal_alert_period__lte=RENEWAL_ALERT_HOURS[1]),
                name="subscription_renewal_alert_period_in_range",
                violation_error_message="renewal_alert_period must be between 1 and 720 hours",
            ),
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True)
                | Q(expires_at__isnull=True)
                | Q(expires_at__gt=models.F("starts_at")),
                name="subscription_expires_after_start",
                violation_error_message="expires_at must be after starts_at",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["active", "running"]) | Q(next_run_at__isnull=False),
                name="active_subscription_has_next_run_at",
            ),
        ]
        permissions = [
            ("activate_ordersubscription", "Can activate and deactivate order subscriptions"),
            ("cancel_ordersubscription", "Can cancel order subscriptions"),
            ("run_ordersubscription", "Can run order subscriptions now"),
        ]

    def __str__(self) -> str:
        return f"Subscription #{self.number}"

    # Transitions change fields in memory only; subscriptions/services locks, saves, records.

    @transition(field=status, source=[Status.DRAFT, Status.INACTIVE], target=Status.ACTIVE)
    def activate(self, *, next_run_at: datetime) -> None:
        self.next_run_at = next_run_at

    @transition(field=status, source=Status.DRAFT, target=Status.ACTIVE)
    def activate_by_placement(self, *, placed_at: datetime, next_run_at: datetime) -> None:
        """The source order's placement is the first run."""
        self.starts_at = self.starts_at or placed_at
        self.next_run_at = next_run_at
        self.record_run(started_at=placed_at, succeeded=True)

    @transition(field=status, source=Status.ACTIVE, target=Status.INACTIVE)
    def deactivate(self) -> None:
        pass

    @transition(field=status, source=Status.ACTIVE, target=Status.INACTIVE)
    def expire(self) -> None:
        pass

    @transition(field=status, source="+", target=Status.CANCELLED)
    def cancel(self) -> None:
        pass

    @transition(field=status, source=Status.ACTIVE, target=Status.RUNNING)
    def start_run(self) -> None:
        pass

    @transition(
        field=status,
        source=Status.RUNNING,
        target=RETURN_VALUE(Status.ACTIVE, Status.INACTIVE),  # type: ignore[arg-type]
    )
    def end_run(self, *, expired: bool) -> str:
        return self.Status.INACTIVE if expired else self.Status.ACTIVE

    def record_run(self, *, started_at: datetime, succeeded: bool) -> None:
        """Count a run that ended (also on a subscription cancelled while it ran)."""
        self.occurrencies += 1
        self.last_run_at = started_at
        self.succeeded_on_last_run = succeeded
        if not succeeded:
            self.errors_count += 1

    def is_expired(self, at: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= at

    def run_time_after(self, after: datetime) -> datetime:
        """The first scheduled time strictly after `after`: every next_run_at is computed here,
        on the frequency's grid from the anchor (starts_at), never from the previous run."""
        anchor = self.starts_at or after
        return frequency_next(self.frequency, anchor=anchor, after=after)


class SubscriptionRun(models.Model):
    """One run of a subscription: the order copy a scheduled time (or a "run now") made.

    The unique (subscription, scheduled_at) is what makes a scheduled time yield one copy at
    most, however many schedulers run.
    """

    class Trigger(models.TextChoices):
        SOURCE_ORDER = "source_order", "placement of the source order"
        SCHEDULE = "schedule", "scheduler"
        MANUAL = "manual", "run now"

    subscription = models.ForeignKey(
        OrderSubscription, on_delete=models.CASCADE, related_name="runs"
    )
    scheduled_at = models.DateTimeField()
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    order_copy = models.OneToOneField(
        OrderCopy,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="subscription_run",
    )
    skipped_slots = models.PositiveIntegerField(
        default=0, help_text="Scheduled times this run stood in for (the scheduler was behind)."
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    succeeded = models.BooleanField(null=True, blank=True)
    errors_log = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "scheduled_at"], name="one_run_per_scheduled_time"
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(succeeded__isnull=False),
                name="ended_run_has_outcome",
            ),
        ]
        indexes = [
            models.Index(
                fields=["subscription"],
                condition=Q(ended_at__isnull=True),
                name="subscription_open_runs",
            )
        ]

    def __str__(self) -> str:
        return f"Run of subscription {self.subscription_id} scheduled at {self.scheduled_at}"

    def end(self, *, at: datetime, succeeded: bool, errors: dict[str, list[str]]) -> None:
        self.ended_at = at
        self.succeeded = succeeded
        self.errors_log = errors
