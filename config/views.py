"""The pages outside the admin and the API: the landing page and its icon (/healthz and
/metrics are in health/views.py)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

# A copy sign on the product's colour, as an SVG (browsers take it under /favicon.ico too).
ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<rect x="1" y="4" width="9" height="11" rx="1" fill="#417690"/>'
    '<rect x="5" y="1" width="9" height="11" rx="1" fill="#79aec8" stroke="#fff"/></svg>'
)


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


@require_safe
@cache_control(max_age=86400, public=True)
def favicon(request: HttpRequest) -> HttpResponse:
    return HttpResponse(ICON, content_type="image/svg+xml")
