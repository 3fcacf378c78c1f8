from django.db import models


class ProcessPresence(models.Model):
    """A running worker or scheduler. On PostgreSQL the process holds a session advisory lock
    keyed on this row's id for its whole life, on a connection of its own: the row is alive
    exactly while that lock is held, so a killed process is dead at once, with no clock.
    SQLite has no such locks: there (the demo only) `heartbeat_at` is refreshed instead."""

    class Kind(models.TextChoices):
        WORKER = "worker"
        SCHEDULER = "scheduler"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField(help_text="Refreshed on SQLite only (no row locks there).")

    class Meta:
        verbose_name = "process presence"
        ordering = ["kind", "started_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.host}:{self.pid}"
