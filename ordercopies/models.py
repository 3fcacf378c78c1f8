from datetime import datetime
from typing import Any

from django.contrib.contenttypes.fields import GenericRelation
from django.db import models
from django.db.models import Q
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from core.models import Resource
from ordercopies.options import CopyOptions
from orders.models import Order


def _option_field(name: str) -> models.BooleanField:
    return models.BooleanField(default=CopyOptions.defaults()[name])


class OrderCopy(ConcurrentTransitionMixin, Resource):
    """An asynchronous job that turns a source order into a new target order (SPEC.md §3)."""

    resource_type = "order_copies"

    class Status(models.TextChoices):
        PENDING = "pending"
        IN_PROGRESS = "in_progress"
        COMPLETED = "completed"
        FAILED = "failed"
        ABORTED = "aborted"

    OPTIONS = CopyOptions.names()

    status = FSMField(default=Status.PENDING, choices=Status.choices, protected=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    failed_at = models.DateTimeField(null=True, blank=True, editable=False)
    errors_log = models.JSONField(default=dict, blank=True, editable=False)
    errors_count = models.PositiveIntegerField(default=0, editable=False)
    attempts = models.PositiveIntegerField(default=0, editable=False)
    lost_runs = models.PositiveIntegerField(
        default=0, editable=False, help_text="Runs in a row whose worker was lost (since a retry)."
    )
    place_target_order = _option_field("place_target_order")
    reuse_wallet = _option_field("reuse_wallet")
    cancel_source_order = _option_field("cancel_source_order")
    apply_promotions = _option_field("apply_promotions")
    skip_errors = _option_field("skip_errors")
    ignore_invalid_coupon = _option_field("ignore_invalid_coupon")
    source_order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="order_copies")
    target_order = models.OneToOneField(
        Order,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="created_by_copy",
        editable=False,
    )
    order_subscription = models.ForeignKey(
        "subscriptions.OrderSubscription",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="order_copies",
        editable=False,
    )
    # Its tags (tags/): the attachments go with the row.
    tag_links = GenericRelation("tags.TaggedItem")

    class Meta:
        verbose_name_plural = "order copies"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="in_progress") | Q(started_at__isnull=False),
                name="running_copy_has_started_at",
            ),
            models.CheckConstraint(
                condition=~Q(status="completed") | Q(completed_at__isnull=False),
                name="completed_copy_has_completed_at",
            ),
            models.CheckConstraint(
                condition=~Q(status="failed") | Q(failed_at__isnull=False, errors_count__gt=0),
                name="failed_copy_has_failed_at_and_errors",
            ),
            models.CheckConstraint(
                condition=Q(status="completed") | Q(target_order__isnull=True),
                name="only_completed_copy_has_target",
            ),
        ]
        permissions = [
            ("launch_ordercopy", "Can launch order copies"),
            ("retry_ordercopy", "Can retry order copies"),
            ("abort_ordercopy", "Can abort order copies"),
        ]

    def __str__(self) -> str:
        return f"Copy {self.pk} of order #{self.source_order.number}"

    # Transitions change fields in memory only; ordercopies/services.py locks, saves, records.

    @transition(field=status, source=Status.PENDING, target=Status.IN_PROGRESS)
    def start(self, *, at: datetime) -> None:
        self.started_at = at
        self.attempts += 1

    @transition(field=status, source=Status.IN_PROGRESS, target=Status.COMPLETED)
    def complete(self, *, at: datetime, target: Order, errors: dict[str, list[str]]) -> None:
        self.completed_at = at
        self.target_order = target
        self._set_errors(errors)

    @transition(field=status, source=Status.IN_PROGRESS, target=Status.FAILED)
    def fail(self, *, at: datetime, errors: dict[str, list[str]]) -> None:
        self.failed_at = at
        self._set_errors(errors)

    @transition(field=status, source=[Status.PENDING, Status.IN_PROGRESS], target=Status.ABORTED)
    def abort(self, *, errors: dict[str, list[str]] | None = None, lost: bool = False) -> None:
        """`lost`: aborted because its worker was lost once more (that run counts too)."""
        if errors:
            self._set_errors(errors)
        if lost:
            self.lost_runs += 1

    @transition(field=status, source=Status.IN_PROGRESS, target=Status.PENDING)
    def release(self) -> None:
        """A lost worker's copy goes back to the queue."""
        self.lost_runs += 1

    @transition(field=status, source=[Status.FAILED, Status.ABORTED], target=Status.PENDING)
    def retry(self) -> None:
        self.failed_at = None
        self.lost_runs = 0
        self._set_errors({})

    def _set_errors(self, errors: dict[str, list[str]]) -> None:
        self.errors_log = errors
        self.errors_count = sum(len(messages) for messages in errors.values())

    def options(self) -> dict[str, Any]:
        return self.copy_options().as_dict()

    def copy_options(self) -> CopyOptions:
        return CopyOptions.of(self)
