"""What /healthz, /metrics and the console's dashboard read: the copy backlog and whether the
database, the migrations and the workers are there. Each read is a fixed number of queries."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Count, Min, Q
from django.utils import timezone

from health.presence import presence_alive_counts
from ordercopies.models import OrderCopy


@dataclass(frozen=True, slots=True)
class Backlog:
    pending: int
    in_progress: int
    oldest_pending_at: datetime | None

    def oldest_pending_age(self, *, now: datetime | None = None) -> float | None:
        """Seconds the oldest pending copy has waited, or None when nothing is pending."""
        if self.oldest_pending_at is None:
            return None
        return max(0.0, ((now or timezone.now()) - self.oldest_pending_at).total_seconds())


def backlog_get() -> Backlog:
    """Pending and in-progress copies (both modes) and when the oldest pending one was made."""
    pending = Q(status=OrderCopy.Status.PENDING)
    row = OrderCopy.objects.aggregate(
        pending=Count("pk", filter=pending),
        in_progress=Count("pk", filter=Q(status=OrderCopy.Status.IN_PROGRESS)),
        oldest=Min("created_at", filter=pending),
    )
    return Backlog(row["pending"], row["in_progress"], row["oldest"])


def max_backlog_age() -> float:
    return float(settings.HEALTH_MAX_BACKLOG_AGE)


@dataclass(frozen=True, slots=True)
class Health:
    healthy: bool
    checks: dict[str, str]
    details: dict[str, object]


def health_check() -> Health:
    """Each check as "ok" or what is wrong: database, migrations, workers, backlog. Stops at
    the first database error (the other checks need it)."""
    checks: dict[str, str] = {}
    details: dict[str, object] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
        checks["migrations"] = _migrations_check()
        alive = presence_alive_counts()
        checks["workers"] = "ok" if alive["worker"] else "no worker is alive: copies will wait"
        backlog = backlog_get()
        checks["backlog"] = _backlog_check(backlog)
        details = {
            "workers_alive": alive["worker"],
            "schedulers_alive": alive["scheduler"],
            "pending": backlog.pending,
            "in_progress": backlog.in_progress,
            "oldest_pending_age_seconds": _rounded(backlog.oldest_pending_age()),
        }
    except DatabaseError as error:
        checks["database"] = f"unreachable: {error.__class__.__name__}"
    healthy = all(result == "ok" for result in checks.values()) and "backlog" in checks
    return Health(healthy=healthy, checks=checks, details=details)


def _migrations_check() -> str:
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return "ok" if not plan else f"{len(plan)} not applied"


def _backlog_check(backlog: Backlog) -> str:
    age = backlog.oldest_pending_age()
    limit = max_backlog_age()
    if age is None or age <= limit:
        return "ok"
    return f"the oldest pending copy has waited {age:.0f} s (more than {limit:.0f} s)"


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
