import hashlib
import hmac
import secrets

from django.contrib.auth.hashers import check_password
from django.db import models

from core.models import Mode, generate_id


class ApiClient(models.Model):
    """An application that calls the API: integration (confidential: id and secret, everything in
    its mode) or sales channel (public: id only, one market scope, limited resources)."""

    class Kind(models.TextChoices):
        INTEGRATION = "integration"
        SALES_CHANNEL = "sales_channel"

    id = models.CharField(primary_key=True, max_length=10, default=generate_id, editable=False)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    mode = models.CharField(max_length=4, choices=Mode.choices, default=Mode.TEST)
    client_id = models.CharField(max_length=64, unique=True, editable=False)
    secret_hash = models.CharField(max_length=256, blank=True, editable=False)
    market_codes = models.JSONField(
        default=list, blank=True, help_text="Markets (codes) a sales channel may ask a scope for."
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "API client"
        ordering = ["name"]
        permissions = [("revoke_apiclient", "Can revoke API clients (their tokens stop working)")]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind}, {self.mode})"

    @property
    def confidential(self) -> bool:
        return self.kind == self.Kind.INTEGRATION

    def set_new_credentials(self) -> str | None:
        """A new client id, and for integrations a new secret, returned once (only its hash is
        stored)."""
        self.client_id = secrets.token_urlsafe(32)
        if not self.confidential:
            self.secret_hash = ""
            return None
        secret = secrets.token_urlsafe(32)
        self.secret_hash = _secret_digest(secret)
        return secret

    def check_secret(self, secret: str) -> bool:
        if self.secret_hash.startswith(SECRET_DIGEST_PREFIX):
            return hmac.compare_digest(self.secret_hash, _secret_digest(secret))
        # Secrets stored before digests: Django's password hash.
        return bool(self.secret_hash) and check_password(secret, self.secret_hash)


# A secret is 256 random bits, not a password a person chose: a plain SHA-256 cannot be reversed
# by guessing, and it keeps /oauth/token cheap (a password hash costs a second of CPU a request,
# which anyone could ask for).
SECRET_DIGEST_PREFIX = "sha256$"  # noqa: S105 (a prefix, not a secret)


def _secret_digest(secret: str) -> str:
    return SECRET_DIGEST_PREFIX + hashlib.sha256(secret.encode()).hexdigest()


class RateLimitCounter(models.Model):
    """Requests counted in the current and the previous window of one rate limit
    (api/ratelimit.py): one row per limit and caller, changed in place by one upsert so that
    every process counts together."""

    key = models.CharField(primary_key=True, max_length=200)
    window_start = models.BigIntegerField(db_index=True, help_text="Unix time, in seconds.")
    window_seconds = models.PositiveIntegerField()
    count = models.PositiveIntegerField(default=0)
    previous_count = models.PositiveIntegerField(
        default=0, help_text="Requests of the window just before this one."
    )

    def __str__(self) -> str:
        return f"{self.key}: {self.count} since {self.window_start} ({self.previous_count} before)"
