"""API throughput, in one run: gunicorn (2 workers) on PostgreSQL, measured with wrk.

  - the list of 25 order copies with include=source_order,target_order,
  - a retrieve of one order copy,
  - a bare Django view returning the same 25 rows as the same JSON document (the baseline),

then requests per second, latency percentiles and the ratios to the bare view. It works in a
throw-away test database that it creates, fills and drops. Needs `wrk` (apt-get install wrk).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ordercopies \\
        .venv/bin/python bench/api_throughput.py [--seconds 10 --connections 8]
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from api.services import api_client_create  # noqa: E402
from api.tokens import token_issue  # noqa: E402
from bench.copy_throughput import build_sources  # noqa: E402
from ordercopies import services  # noqa: E402

PORT = 8791


def wrk(url: str, token: str, seconds: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
         "-H", f"Authorization: Bearer {token}", "-H", "Accept: application/vnd.api+json", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    result = {"rps": rate}
    for pct in ("50", "90", "99"):
        match = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(match.group(1)), match.group(2)  # type: ignore[union-attr]
        result[f"p{pct}"] = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{url}: {errors.group(1)} error responses")
    return result


def fetch(url: str, token: str) -> dict:  # type: ignore[type-arg]
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    return json.load(urllib.request.urlopen(request))  # noqa: S310


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench/api_throughput.py needs wrk: apt-get install wrk")
    if connection.vendor != "postgresql":
        raise SystemExit(
            "bench/api_throughput.py needs PostgreSQL: set DATABASE_URL=postgres://..."
        )
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    s = connection.settings_dict
    database_url = f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{name}"
    server = None
    try:
        copies = services.order_copy_create_many(source_orders=build_sources(25, 5), mode="test")
        for copy in copies:
            services.order_copy_execute(order_copy_id=copy.pk)
        client, _ = api_client_create(name="bench", kind="integration", mode="test")
        token = str(token_issue(client=client)["access_token"])
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "DEBUG": "false",
            "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-secret"),
            "ALLOWED_HOSTS": "127.0.0.1",
            "API_TOKEN_SECRET": settings.API_TOKEN_SECRET,
            "DJANGO_SETTINGS_MODULE": "bench.settings",
        }
        server = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "config.wsgi", "--workers", "2",
             "--bind", f"127.0.0.1:{PORT}", "--log-level", "warning"],
            cwd=ROOT, env=env,
        )  # fmt: skip
        base = f"http://127.0.0.1:{PORT}"
        urls = {
            "API list (25, include=source_order,target_order)": (
                f"{base}/api/order_copies?page[size]=25&include=source_order,target_order"
            ),
            "API retrieve (1 order copy)": f"{base}/api/order_copies/{copies[0].pk}",
            "bare Django view (same 25-row document)": f"{base}/bench/bare",
        }
        for _ in range(100):
            try:
                fetch(urls["API retrieve (1 order copy)"], token)
                break
            except OSError:
                time.sleep(0.1)
        api_doc = fetch(urls["API list (25, include=source_order,target_order)"], token)
        bare_doc = fetch(urls["bare Django view (same 25-row document)"], token)
        same = api_doc["data"] == bare_doc["data"] and sorted(
            api_doc["included"], key=lambda r: r["id"]
        ) == sorted(bare_doc["included"], key=lambda r: r["id"])
        print(f"bare view document identical to the API's: {same}")
        results = {}
        for label, url in urls.items():
            wrk(url, token, 2, options.connections)  # warm up
            results[label] = wrk(url, token, options.seconds, options.connections)
        bare = results["bare Django view (same 25-row document)"]["rps"]
        print(f"{'endpoint':<50}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'bare/x':>9}")
        for label, r in results.items():
            print(
                f"{label:<50}{r['rps']:>9.1f}{r['p50']:>9.2f}{r['p90']:>9.2f}{r['p99']:>9.2f}"
                f"{bare / r['rps']:>8.2f}×"
            )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        connection.creation.destroy_test_db(name, verbosity=0)


if __name__ == "__main__":
    main()
