from typing import Any

from django.core.management.base import BaseCommand

from idempotency.services import idempotency_key_prune


class Command(BaseCommand):
    help = "Delete the idempotency keys older than IDEMPOTENCY_KEY_TTL seconds (default 24 h)."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = idempotency_key_prune()
        self.stdout.write(f"Deleted {deleted} expired idempotency keys.")
