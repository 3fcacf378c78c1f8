"""Rate limits on /api/ and /oauth/token, like Commerce Layer's: an average limit on all the
resources together and a burst limit on each resource, for reads and for writes apart, counted
per client (the token's API client) and per client address, in the database so that every
process counts together (api/services.py: `rate_limit_counters_hit`).

Windows slide, as Commerce Layer's do: a request is refused when the requests of the last
interval, estimated from the count of the current fixed window and the part of the previous
window's count that still lies within the interval, are more than the limit. Refused requests
count too: a caller that keeps hammering stays refused until it slows down.
"""

import ipaddress
import math
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from api.services import RateCount, rate_limit_counters_hit, rate_limit_counters_prune
from api.tokens import InvalidToken, token_decode

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
UNITS = {
    **dict.fromkeys(["s", "sec", "second"], 1),
    **dict.fromkeys(["m", "min", "minute"], 60),
    **dict.fromkeys(["h", "hour"], 3600),
    **dict.fromkeys(["d", "day"], 86400),
}
RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*$")


@dataclass(frozen=True)
class Rate:
    limit: int
    interval: int  # seconds


def rate_parse(value: str, *, setting: str) -> Rate:
    """'30/min', '50/10s', '1000/hour', '5000/day': requests per interval."""
    match = RATE.match(value.lower())
    if not match or match.group(3) not in UNITS or int(match.group(1)) < 1:
        raise ImproperlyConfigured(
            f"{setting} must be a rate like 30/min, 50/10s or 1000/hour, got {value!r}"
        )
    interval = int(match.group(2) or 1) * UNITS[match.group(3)]
    if interval < 1:
        raise ImproperlyConfigured(f"{setting} needs an interval of at least 1 second")
    return Rate(limit=int(match.group(1)), interval=interval)


@dataclass(frozen=True)
class Verdict:
    """The most binding of the limits a request was counted in."""

    limit: int
    interval: int
    remaining: int
    retry_after: int  # seconds until the exceeded limits allow a request again; 0 if none

    @property
    def exceeded(self) -> bool:
        return self.retry_after > 0

    def headers(self) -> dict[str, str]:
        return {
            "X-Ratelimit-Limit": str(self.limit),
            "X-Ratelimit-Interval": str(self.interval),
            "X-Ratelimit-Remaining": str(self.remaining),
        }


def client_address(request: HttpRequest) -> str:
    """REMOTE_ADDR, or behind API_TRUSTED_PROXIES proxies the address the outermost of them
    saw: the entry that many places from the right of X-Forwarded-For (each proxy appends the
    address it was called from; what lies left of that was written by the caller and proves
    nothing). IPv6 addresses count by /64, the block one host usually holds."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.API_TRUSTED_PROXIES
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [a for a in forwarded if a]
    address = forwarded[-min(proxies, len(forwarded))] if proxies > 0 and forwarded else remote
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        # Not an address: the proxy's own address then, which limits more, never less.
        return remote[:64] or "unknown"
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


RATE_SETTINGS = (
    "OAUTH_RATE",
    "API_RATE_READ",
    "API_RATE_READ_BURST",
    "API_RATE_WRITE",
    "API_RATE_WRITE_BURST",
)


def _rate(setting: str) -> Rate:
    return rate_parse(getattr(settings, setting), setting=setting)


def ratelimit_check_settings() -> None:
    """ImproperlyConfigured at start-up, not at the first request, for a rate that is wrong."""
    for setting in RATE_SETTINGS:
        _rate(setting)


def _token_client(request: HttpRequest) -> str | None:
    """The API client of a valid bearer token (its signature checked, no query): the rest of
    the checks (revocation, kind, markets) are authentication's."""
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        return token_decode(token.strip()).client_pk
    except InvalidToken:
        return None


def _limits(request: HttpRequest, *, resources: frozenset[str]) -> dict[str, Rate]:
    """The counters this request is counted in, by key, with their rates."""
    address = client_address(request)
    if request.path_info.startswith("/oauth/"):
        return {f"oauth:address:{address}": _rate("OAUTH_RATE")}
    kind = "read" if request.method in SAFE_METHODS else "write"
    average, burst = (_rate(f"API_RATE_{kind.upper()}{suffix}") for suffix in ("", "_BURST"))
    segment = request.path_info.removeprefix("/api/").split("/", 1)[0]
    # Unknown paths share one burst counter: a caller cannot make counters up at will.
    resource = segment if segment in resources else "other"
    callers = [f"address:{address}"]
    client = _token_client(request)
    if client is not None:
        callers.append(f"client:{client}")
    limits = {}
    for caller in callers:
        limits[f"{kind}:{caller}"] = average
        limits[f"{kind}:{caller}:{resource}"] = burst
    return limits


def ratelimit_count(request: HttpRequest, *, resources: frozenset[str]) -> Verdict | None:
    """Counts the request in each of its limits; None when rate limits are off."""
    if not settings.API_RATELIMIT_ENABLED:
        return None
    now = time.time()
    limits = _limits(request, resources=resources)
    windows = {key: (int(now // r.interval) * r.interval, r.interval) for key, r in limits.items()}
    counted = rate_limit_counters_hit(windows=windows)
    if request.path_info.startswith("/oauth/"):
        # Token requests are few and not latency-bound: they sweep the counters that ended.
        rate_limit_counters_prune(now=int(now))
    verdicts = [_verdict(rate, counted[key], now=now) for key, rate in limits.items()]
    return min(verdicts, key=lambda v: (-v.retry_after, v.remaining, v.interval))


def _verdict(rate: Rate, counted: RateCount, *, now: float) -> Verdict:
    limit, interval = rate.limit, rate.interval
    elapsed = min(max((now - counted.window_start) / interval, 0.0), 1.0)
    recent = counted.previous_count * (1 - elapsed) + counted.count
    remaining = max(math.floor(limit - recent), 0)
    if recent <= limit:
        return Verdict(limit=limit, interval=interval, remaining=remaining, retry_after=0)
    # When one more request would be allowed, if none came meanwhile.
    window_end = counted.window_start + interval
    room = limit - counted.count - 1
    if room >= 0 and counted.previous_count:
        allowed_at = counted.window_start + interval * (1 - room / counted.previous_count)
    else:
        allowed_at = window_end + interval * (1 - (limit - 1) / counted.count)
    wait = max(math.ceil(allowed_at - now), 1)
    return Verdict(limit=limit, interval=interval, remaining=0, retry_after=wait)
