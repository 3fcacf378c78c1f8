"""/healthz for load balancers and /metrics for Prometheus."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from health.metrics import REGISTRY
from health.selectors import health_check


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database answers, every migration is applied, a worker is alive and no
    pending copy has waited too long; 503 otherwise. Each check's result, and the figures."""
    health = health_check()
    body: dict[str, object] = {
        "status": "ok" if health.healthy else "unhealthy",
        "checks": health.checks,
    }
    if health.details:
        body["details"] = health.details
    return JsonResponse(body, status=200 if health.healthy else 503)


@require_safe
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
