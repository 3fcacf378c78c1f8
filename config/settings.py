"""Settings, read from the environment with safe defaults (see README "Configuration")."""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

DEVELOPMENT_SECRET_KEY = "dev-only-insecure-secret-key-change-me"  # noqa: S105


def env_bool(name: str, *, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {value!r}")


def env_int(name: str, *, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None


def env_float(name: str, *, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None


def env_list(name: str, *, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", default=True)
SECRET_KEY = os.environ.get("SECRET_KEY") or DEVELOPMENT_SECRET_KEY
if not DEBUG and SECRET_KEY == DEVELOPMENT_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is the development default while DEBUG is off: set SECRET_KEY "
        "to a long random value in the environment."
    )
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks_db",
    "rest_framework",
    "rest_framework_json_api",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "events",
    "orders",
    "ordercopies",
    "subscriptions",
    "tags",
    "api",
    "demo",
    "health",
    "idempotency",
    "webhooks",
]

MIDDLEWARE = [
    # Outermost: counts every answer of /api/ and /oauth/ by status for /metrics (health/).
    "health.middleware.ApiRequestMetricsMiddleware",
    # First: rate limits, body size and JSON:API errors for every answer of /api/ and /oauth/.
    "api.middleware.ApiEdgeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: Idempotency-Key on writes under /api/, its transaction around the view only.
    "idempotency.middleware.IdempotencyMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        # Persistent connections: a worker would otherwise reconnect for every job.
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", default=60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A worker and the web server share the file: wait for locks instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update({"timeout": 20, "transaction_mode": "IMMEDIATE"})

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TASKS = {
    "default": {
        "BACKEND": os.environ.get("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}

LANGUAGE_CODE = "en-us"
FORMAT_MODULE_PATH = ["config.formats"]  # one date format in the console: Y-m-d H:i:s
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "var" / "static"))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=True)

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(trace_id)s] %(message)s"},
    },
    # Every line says the API request it was written for (its trace id, "-" outside one).
    "filters": {"trace_id": {"()": "api.tracing.TraceIdFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["trace_id"],
        }
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        # Django's own default config gives "django" a console handler of its own: without
        # propagate=False every django.* line (django.tasks among them) would print twice.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "orders": {"level": LOG_LEVEL},
        "ordercopies": {"level": LOG_LEVEL},
        "events": {"level": LOG_LEVEL},
        "django_tasks_db": {"level": LOG_LEVEL},
        "django.tasks": {"level": LOG_LEVEL},
    },
}

# The order copy engine (see README "Configuration").
ORDER_COPY_MAX_ATTEMPTS = env_int("ORDER_COPY_MAX_ATTEMPTS", default=3)
ORDER_COPY_TRANSIENT_RETRIES = env_int("ORDER_COPY_TRANSIENT_RETRIES", default=3)
ORDER_COPY_RECOVERY_INTERVAL = env_int("ORDER_COPY_RECOVERY_INTERVAL", default=60)
# Copies a job carries, and so a worker runs in one transaction (the engine's batch).
ORDER_COPY_BATCH_SIZE = env_int("ORDER_COPY_BATCH_SIZE", default=100)

# The JSON:API (see README "API").
API_TOKEN_SECRET = os.environ.get("API_TOKEN_SECRET") or SECRET_KEY
API_ORGANIZATION_SLUG = os.environ.get("API_ORGANIZATION_SLUG", "acme")
API_ORGANIZATION_ID = os.environ.get("API_ORGANIZATION_ID", "OrgAcme001")
API_ORGANIZATION_NAME = os.environ.get("API_ORGANIZATION_NAME", "Acme")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.HasAccessToken"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JsonApiParser"],
    "DEFAULT_RENDERER_CLASSES": ["api.renderers.JsonApiRenderer"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.PageNumberPagination",
    "DEFAULT_FILTER_BACKENDS": ["api.filters.QueryFilter", "api.filters.SortFilter"],
    "DEFAULT_METADATA_CLASS": "rest_framework_json_api.metadata.JSONAPIMetadata",
    "DEFAULT_SCHEMA_CLASS": "api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "vnd.api+json",
}
# Rate limits (api/ratelimit.py), per client and per client address, counted in the database.
API_RATELIMIT_ENABLED = env_bool("API_RATELIMIT_ENABLED", default=True)
API_RATE_READ = os.environ.get("API_RATE_READ", "1000/min")
API_RATE_READ_BURST = os.environ.get("API_RATE_READ_BURST", "50/10s")
API_RATE_WRITE = os.environ.get("API_RATE_WRITE", "200/min")
API_RATE_WRITE_BURST = os.environ.get("API_RATE_WRITE_BURST", "50/10s")
OAUTH_RATE = os.environ.get("OAUTH_RATE", "30/min")
# Proxies in front of the server that append the caller's address to X-Forwarded-For.
API_TRUSTED_PROXIES = env_int("API_TRUSTED_PROXIES", default=0)
# Bounded requests: bodies larger are a 413, JSON bodies nested deeper a 400.
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", default=1024 * 1024)
API_MAX_JSON_DEPTH = env_int("API_MAX_JSON_DEPTH", default=32)
JSON_API_FORMAT_FIELD_NAMES = False
JSON_API_FORMAT_TYPES = False
JSON_API_PLURALIZE_TYPES = False
SPECTACULAR_SETTINGS = {
    "TITLE": "Order copies API",
    "DESCRIPTION": "Commerce Layer compatible JSON:API for order copies and the orders they copy.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.relax_resource_objects",
        "api.schema.apply_reference",
    ],
    # Swagger UI and Redoc from drf-spectacular-sidecar's static files, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "REDOC_UI_SETTINGS": {
        "expandResponses": "200,201",
        "jsonSampleExpandLevel": "all",
        "nativeScrollbars": True,
    },
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True, "displayRequestDuration": True},
}

# Order subscriptions (see README "Configuration").
SUBSCRIPTION_SCHEDULER_INTERVAL = env_int("SUBSCRIPTION_SCHEDULER_INTERVAL", default=60)
# A safety valve only: a pass starts every due run, up to this many.
SUBSCRIPTION_SCHEDULER_BATCH = env_int("SUBSCRIPTION_SCHEDULER_BATCH", default=100000)

# Idempotency-Key (idempotency/): how long a key is kept, and how long a repeat waits for the
# first request with its key before it is refused with 409.
IDEMPOTENCY_KEY_TTL = env_int("IDEMPOTENCY_KEY_TTL", default=24 * 3600)
IDEMPOTENCY_WAIT = env_int("IDEMPOTENCY_WAIT", default=5)

# Health (see README "Health and metrics"): a pending copy older than this makes /healthz
# unhealthy (workers are too few, or stuck).
HEALTH_MAX_BACKLOG_AGE = env_int("HEALTH_MAX_BACKLOG_AGE", default=900)
# Webhooks (see README "Webhooks"): delivery by `manage.py deliver_webhooks`.
WEBHOOKS_TIMEOUT = env_float("WEBHOOKS_TIMEOUT", default=5.0)
WEBHOOKS_MAX_RETRIES = env_int("WEBHOOKS_MAX_RETRIES", default=10)
WEBHOOKS_CIRCUIT_THRESHOLD = env_int("WEBHOOKS_CIRCUIT_THRESHOLD", default=30)
WEBHOOKS_RETRY_BASE = env_float("WEBHOOKS_RETRY_BASE", default=15.0)
WEBHOOKS_RETRY_MAX = env_float("WEBHOOKS_RETRY_MAX", default=3600.0)
WEBHOOKS_POLL_INTERVAL = env_float("WEBHOOKS_POLL_INTERVAL", default=0.5)
# Outbound safety: callbacks to private, loopback or link-local addresses are refused (SSRF)
# unless this is on; live webhooks need https unless WEBHOOKS_ALLOW_HTTP.
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = env_bool("WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", default=False)
WEBHOOKS_ALLOW_HTTP = env_bool("WEBHOOKS_ALLOW_HTTP", default=False)
# The links of webhook bodies (the API's public address).
WEBHOOKS_API_BASE_URL = os.environ.get("WEBHOOKS_API_BASE_URL", "http://localhost:8000")
LOGGING["loggers"]["webhooks"] = {"level": LOG_LEVEL}  # type: ignore[index]
LOGGING["loggers"]["subscriptions"] = {"level": LOG_LEVEL}  # type: ignore[index]
