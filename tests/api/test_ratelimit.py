"""Rate limits (issue 9, finding 7 and Build 3): per client and per client address, reads and
writes apart, average and burst, counted in the database so that every process counts
together; X-Ratelimit-* headers on every answer, 429 TOO_MANY_REQUESTS with Retry-After."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import RequestFactory

from api.models import RateLimitCounter
from api.ratelimit import Rate, _verdict, client_address, rate_parse
from api.services import RateCount, api_client_create, rate_limit_counters_hit
from api.tokens import token_issue
from api.urls import RESOURCES
from tests.api.conftest import MEDIA, assert_error, copy_document

ROOT = Path(__file__).resolve().parents[2]
HEADERS = ("X-Ratelimit-Limit", "X-Ratelimit-Interval", "X-Ratelimit-Remaining")


def call(client, method: str, path: str, *, token: str | None = None, **meta: Any) -> Any:
    headers = {"HTTP_ACCEPT": MEDIA, **meta}
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    if method == "POST":
        return client.post(path, "{}", content_type=MEDIA, **headers)
    return client.get(path, **headers)


def limits_of(response: Any) -> tuple[int, int, int]:
    limit, interval, remaining = (int(response[name]) for name in HEADERS)
    assert limit >= 1 and interval >= 1 and 0 <= remaining <= limit
    return limit, interval, remaining


# Headers on every answer -----------------------------------------------------------------------


def boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("an unexpected bug")


ANSWERS = {
    "200 list": lambda api, c, o: api.get("/api/orders"),
    "200 retrieve": lambda api, c, o: api.get(f"/api/orders/{o.pk}"),
    "200 related": lambda api, c, o: api.get(f"/api/orders/{o.pk}/line_items"),
    "201 create": lambda api, c, o: api.post("/api/order_copies", copy_document(o.pk)),
    "400 filter": lambda api, c, o: api.get("/api/orders", {"filter[q][nope_eq]": "1"}),
    "400 nested": lambda api, c, o: api.post("/api/order_copies", "[" * 5000 + "]" * 5000),
    "401 no token": lambda api, c, o: call(c, "GET", "/api/orders"),
    "401 bad token": lambda api, c, o: call(c, "GET", "/api/orders", token="x.y.z"),
    "404 record": lambda api, c, o: api.get("/api/orders/NoSuchId00"),
    "404 route": lambda api, c, o: api.get("/api/no_such_resource"),
    "405": lambda api, c, o: api.delete("/api/events"),
    "413": lambda api, c, o: api.post("/api/order_copies", "x" * (2 * 1024 * 1024)),
    "422": lambda api, c, o: api.post("/api/order_copies", copy_document("NoSuchId00")),
    "schema": lambda api, c, o: api.get("/api/openapi.json"),
    "docs": lambda api, c, o: api.get("/api/docs/"),
    "token 400": lambda api, c, o: c.post("/oauth/token", "{}", "application/json"),
    "token 401": lambda api, c, o: c.post(
        "/oauth/token", '{"grant_type": "client_credentials"}', "application/json"
    ),
    "token 404": lambda api, c, o: c.get("/oauth/nope"),
}


@pytest.mark.parametrize("answer", ANSWERS, ids=list(ANSWERS))
def test_every_answer_under_api_and_oauth_carries_the_rate_limit_headers(
    api, client, no_raise, make_order, answer
):
    response = ANSWERS[answer](api, client, make_order())
    assert str(response.status_code)[0] in "24", response.content
    limits_of(response)


def test_a_500_carries_them_too(api, no_raise, monkeypatch):
    monkeypatch.setattr(RESOURCES["orders"], "list", boom)
    response = api.get("/api/orders")
    assert_error(response, 500, "INTERNAL_SERVER_ERROR")
    limits_of(response)


def test_a_429_carries_them_and_retry_after(api, settings, db):
    settings.API_RATE_READ_BURST = "2/hour"
    for remaining in (1, 0):
        assert limits_of(api.get("/api/markets")) == (2, 3600, remaining)
    refused = api.get("/api/markets")
    error = assert_error(refused, 429, "TOO_MANY_REQUESTS")
    assert "more than 2 requests in 3600 s" in error["detail"]
    assert limits_of(refused) == (2, 3600, 0)
    assert 0 < int(refused["Retry-After"]) <= 2 * 3600


def test_no_headers_and_no_limit_when_rate_limits_are_off(api, settings, db):
    settings.API_RATELIMIT_ENABLED = False
    settings.API_RATE_READ_BURST = "1/hour"
    responses = [api.get("/api/markets") for _ in range(3)]
    assert [r.status_code for r in responses] == [200] * 3
    assert not any(name in responses[-1] for name in HEADERS)


# What is counted together ----------------------------------------------------------------------


def test_reads_and_writes_are_counted_apart(api, settings, db):
    settings.API_RATE_WRITE_BURST = "2/hour"
    settings.API_RATE_READ_BURST = "2/hour"
    # Writes count whatever their outcome (these are 400s).
    assert [api.post("/api/order_copies", "{}").status_code for _ in range(3)] == [400, 400, 429]
    assert [api.get("/api/order_copies").status_code for _ in range(3)] == [200, 200, 429]


def test_the_burst_is_per_resource_and_the_average_across_resources(api, settings, db):
    settings.API_RATE_READ_BURST = "3/hour"
    settings.API_RATE_READ = "5/hour"
    assert [api.get("/api/markets").status_code for _ in range(4)] == [200, 200, 200, 429]
    # Another resource has its own burst, but all share the average (5, the 429 included).
    assert api.get("/api/skus").status_code == 200
    assert api.get("/api/promotions").status_code == 429


def test_a_client_is_counted_wherever_it_calls_from(api, client, make_api, settings, db):
    settings.API_RATE_READ_BURST = "2/hour"
    for address in ("10.0.0.1", "10.0.0.2"):
        assert (
            call(client, "GET", "/api/markets", token=api.token, REMOTE_ADDR=address).status_code
            == 200
        )
    # Its own counter is spent, from any address; another client from a fresh address is not.
    assert (
        call(client, "GET", "/api/markets", token=api.token, REMOTE_ADDR="10.0.0.3").status_code
        == 429
    )
    other = make_api()
    assert (
        call(client, "GET", "/api/markets", token=other.token, REMOTE_ADDR="10.0.0.4").status_code
        == 200
    )


def test_an_address_is_counted_whatever_client_calls(client, make_api, settings, db):
    settings.API_RATE_READ_BURST = "2/hour"
    tokens = [make_api().token for _ in range(3)]
    statuses = [
        call(client, "GET", "/api/markets", token=token, REMOTE_ADDR="10.0.0.9").status_code
        for token in tokens
    ]
    assert statuses == [200, 200, 429]
    # No token at all: still the address's counter.
    assert call(client, "GET", "/api/markets", REMOTE_ADDR="10.0.0.9").status_code == 429
    assert call(client, "GET", "/api/markets", REMOTE_ADDR="10.0.0.10").status_code == 401


@pytest.mark.parametrize("path", ["/api/markets", "/oauth/token"])
def test_a_forged_x_forwarded_for_does_not_escape_the_limit(client, db, settings, path):
    settings.API_RATE_READ_BURST = "3/hour"
    settings.API_RATE_WRITE_BURST = "3/hour"
    settings.OAUTH_RATE = "3/hour"
    method = "POST" if path.startswith("/oauth") else "GET"
    statuses = [
        call(client, method, path, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code
        for n in range(5)
    ]
    assert statuses[3:] == [429, 429]
    assert 429 not in statuses[:3]


def test_behind_a_trusted_proxy_the_address_it_saw_is_counted(client, db, settings):
    settings.API_TRUSTED_PROXIES = 1
    settings.API_RATE_READ_BURST = "2/hour"

    def get(forwarded: str) -> int:
        return call(client, "GET", "/api/markets", HTTP_X_FORWARDED_FOR=forwarded).status_code

    # What the caller wrote left of the proxy's entry changes nothing.
    assert [get(f"198.51.100.{n}, 203.0.113.7") for n in range(3)] == [401, 401, 429]
    assert get("203.0.113.8") == 401


@pytest.mark.parametrize(
    ("proxies", "forwarded", "remote", "counted"),
    [
        (0, "", "192.0.2.1", "192.0.2.1"),
        (0, "203.0.113.5", "192.0.2.1", "192.0.2.1"),
        (1, "203.0.113.5", "192.0.2.1", "203.0.113.5"),
        (1, "1.1.1.1, 203.0.113.5", "192.0.2.1", "203.0.113.5"),
        (2, "1.1.1.1, 203.0.113.5, 10.0.0.2", "192.0.2.1", "203.0.113.5"),
        (2, "203.0.113.5", "192.0.2.1", "203.0.113.5"),
        (1, "", "192.0.2.1", "192.0.2.1"),
        (1, "not-an-address", "192.0.2.1", "192.0.2.1"),
        (0, "", "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        (1, "2001:db8:1:2::9", "192.0.2.1", "2001:db8:1:2::/64"),
    ],
)
def test_the_client_address(settings, proxies, forwarded, remote, counted):
    settings.API_TRUSTED_PROXIES = proxies
    meta = {"REMOTE_ADDR": remote, **({"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {})}
    assert client_address(RequestFactory().get("/api/markets", **meta)) == counted


def test_oauth_token_requests_are_counted_per_address(client, db, settings):
    settings.OAUTH_RATE = "2/hour"
    body = '{"grant_type": "client_credentials", "client_id": "nope"}'

    def post(address: str) -> int:
        return client.post(
            "/oauth/token", body, "application/json", REMOTE_ADDR=address
        ).status_code

    assert [post("192.0.2.1") for _ in range(3)] == [401, 401, 429]
    assert post("192.0.2.2") == 401


# The counters ----------------------------------------------------------------------------------


def test_a_counter_counts_in_its_window_and_carries_the_previous_one(db):
    def hit(start: int) -> RateCount:
        return rate_limit_counters_hit(windows={"k": (start, 60)})["k"]

    assert hit(600) == RateCount(window_start=600, count=1, previous_count=0)
    assert hit(600) == RateCount(window_start=600, count=2, previous_count=0)
    assert hit(660) == RateCount(window_start=660, count=1, previous_count=2)
    # A clock a little behind counts in the current window, never moves it back.
    assert hit(600) == RateCount(window_start=660, count=2, previous_count=2)
    # After a silent window, nothing is carried.
    assert hit(780) == RateCount(window_start=780, count=1, previous_count=0)


def test_many_counters_are_counted_in_one_statement(db, django_assert_num_queries):
    windows = {f"k{n}": (0, 10) for n in range(4)}
    with django_assert_num_queries(1):
        counted = rate_limit_counters_hit(windows=windows)
    assert {key: c.count for key, c in counted.items()} == dict.fromkeys(windows, 1)


@pytest.mark.parametrize(
    ("previous", "count", "at", "allowed"),
    [
        (0, 10, 0.0, True),
        (0, 11, 59.0, False),
        (10, 1, 0.0, False),  # the previous window's 10 still lie within the last minute
        (10, 1, 30.0, True),  # half of them do: 5 + 1
        (10, 5, 30.0, True),
        (10, 6, 30.0, False),
    ],
)
def test_the_window_slides(previous, count, at, allowed):
    rate = Rate(limit=10, interval=60)
    verdict = _verdict(rate, RateCount(600, count, previous), now=600 + at)
    assert (not verdict.exceeded) is allowed
    if not allowed:
        # Waiting Retry-After seconds is enough for one more request, and not much more.
        later = 600 + at + verdict.retry_after
        start = 600 if later < 660 else 660
        carried = (previous, count) if start == 600 else (count, 0)
        again = _verdict(rate, RateCount(start, carried[1] + 1, carried[0]), now=later)
        assert not again.exceeded
        assert verdict.retry_after <= 2 * rate.interval


def test_old_counters_are_swept_on_token_requests(client, db):
    now = int(time.time())
    rate_limit_counters_hit(windows={"old": (now - 7200, 60), "current": (now - now % 60, 60)})
    client.post("/oauth/token", "{}", "application/json")
    assert set(RateLimitCounter.objects.values_list("key", flat=True)) >= {"current"}
    assert not RateLimitCounter.objects.filter(key="old").exists()


@pytest.mark.parametrize(
    ("value", "rate"),
    [
        ("30/min", Rate(30, 60)),
        ("50/10s", Rate(50, 10)),
        ("1000/hour", Rate(1000, 3600)),
        ("5 / 2h", Rate(5, 7200)),
        ("40/day", Rate(40, 86400)),
    ],
)
def test_rates_are_read_from_settings(value, rate):
    assert rate_parse(value, setting="X") == rate


@pytest.mark.parametrize("value", ["", "30", "0/min", "30/fortnight", "x/min", "30/0s", "-1/s"])
def test_a_wrong_rate_is_refused_with_its_setting(value):
    with pytest.raises(ImproperlyConfigured, match="API_RATE_READ"):
        rate_parse(value, setting="API_RATE_READ")


def test_the_defaults_are_commerce_layer_s(settings):
    assert rate_parse(django_settings.OAUTH_RATE, setting="OAUTH_RATE") == Rate(30, 60)
    assert django_settings.API_TRUSTED_PROXIES == 0


# Two real gunicorn workers ---------------------------------------------------------------------


def _database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def gunicorn(postgres, transactional_db):
    """gunicorn with 2 workers on the test database, rate limits of a day (no window ends during
    the test); its access log gives the pid of the worker that answered."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DEBUG": "true",
        "API_TOKEN_SECRET": django_settings.API_TOKEN_SECRET,
        "API_RATE_READ": "40/day",
        "API_RATE_READ_BURST": "40/day",
        "OAUTH_RATE": "10/day",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--workers", "2",
         "--bind", f"127.0.0.1:{port}", "--access-logfile", "-",
         "--access-logformat", "%(p)s %(s)s", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            # Outside /api/: not counted.
            urllib.request.urlopen(f"{base}/no/such/page", timeout=5)  # noqa: S310
        except urllib.error.HTTPError:
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"gunicorn did not start: {server.communicate()[0].decode()[-2000:]}")
            time.sleep(0.2)
    try:
        yield base, server
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def _request(url: str, *, token: str = "", body: bytes | None = None, forwarded: str = "") -> Any:
    accept = "application/json" if "/oauth/" in url else MEDIA
    headers = {"Accept": accept, "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if forwarded:
        headers["X-Forwarded-For"] = forwarded
    request = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def _pids(server: subprocess.Popen[bytes], statuses: set[str]) -> Counter[str]:
    """The worker pid of each answer with one of `statuses` (the readiness probes are 404s)."""
    server.send_signal(signal.SIGTERM)
    out, _ = server.communicate(timeout=30)
    lines = [line.split() for line in out.decode().splitlines()]
    return Counter(parts[0] for parts in lines if len(parts) == 2 and parts[1] in statuses)


@pytest.mark.slow
def test_two_gunicorn_workers_share_the_api_limit(gunicorn):
    base, server = gunicorn
    client, _ = api_client_create(name="ERP", kind="integration", mode="test")
    token = str(token_issue(client=client)["access_token"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: _request(f"{base}/api/markets", token=token), range(60)))

    statuses = Counter(status for status, _ in answers)
    assert statuses == {200: 40, 429: 20}
    # Each allowed request saw its own count: one counter, updated atomically by both workers.
    remaining = sorted(int(h["X-Ratelimit-Remaining"]) for s, h in answers if s == 200)
    assert remaining == list(range(40))
    assert all(int(h["Retry-After"]) > 0 for s, h in answers if s == 429)
    pids = _pids(server, {"200", "429"})
    assert len(pids) == 2, pids
    assert sum(pids.values()) == 60


@pytest.mark.slow
def test_two_gunicorn_workers_share_the_token_limit_whatever_x_forwarded_for(gunicorn):
    base, server = gunicorn
    body = json.dumps({"grant_type": "client_credentials", "client_id": "guess"}).encode()

    def guess(n: int) -> Any:
        return _request(f"{base}/oauth/token", body=body, forwarded=f"203.0.113.{n}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(guess, range(30)))

    assert Counter(status for status, _ in answers) == {401: 10, 429: 20}
    pids = _pids(server, {"401", "429"})
    assert len(pids) == 2, pids
    assert sum(pids.values()) == 30
