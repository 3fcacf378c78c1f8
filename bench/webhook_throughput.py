"""Webhook delivery, in one run on the configured PostgreSQL database (a throw-away test_<name>
database it creates, migrates and drops), with a receiver on 127.0.0.1 in this process:

  1. deliveries per second by 1 and then 2 `manage.py deliver_webhooks` processes, to a receiver
     that answers at once;
  2. copies per second by one `db_worker` with no webhook (the baseline), then with webhooks on
     `order_copies.start` and `.complete` whose receiver takes --slow seconds to answer while two
     delivery workers call it: the ratio shows whether a slow receiver slows copies down.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ordercopies \
        .venv/bin/python bench/webhook_throughput.py [--deliveries 500 --copies 300 --slow 2]
"""

import argparse
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# The receiver listens on 127.0.0.1, which webhooks refuse by default.
os.environ["WEBHOOKS_ALLOW_PRIVATE_ADDRESSES"] = "true"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django_tasks_db.models import DBTaskResult  # noqa: E402

from bench.copy_throughput import build_sources, run_workers  # noqa: E402
from ordercopies import services as copy_services  # noqa: E402
from ordercopies.models import OrderCopy  # noqa: E402
from webhooks import services  # noqa: E402
from webhooks.models import Webhook, WebhookDelivery  # noqa: E402


class Receiver:
    def __init__(self) -> None:
        self.delay = 0.0
        self.calls = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver.lock:
                    receiver.calls += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def deliverers(count: int, database_url: str) -> list[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": "bench",
        "WEBHOOKS_ALLOW_PRIVATE_ADDRESSES": "true",
        "LOG_LEVEL": "WARNING",
    }
    args = [sys.executable, "manage.py", "deliver_webhooks", "--interval", "0.01"]
    return [
        subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL) for _ in range(count)
    ]


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=60)


def run_deliveries(ids: list[str], receiver: Receiver, workers: int, database_url: str) -> float:
    webhook = services.webhook_create(
        mode="test", topic="order_copies.create", callback_url=receiver.url
    )
    processes = deliverers(workers, database_url)
    started = time.perf_counter()
    copy_services.order_copy_create_many(source_orders=ids, mode="test")
    pending = WebhookDelivery.objects.filter(webhook=webhook).exclude(status="delivered")
    while pending.exists():
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    stop(processes)
    services.webhook_disable(webhook=webhook)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=500)
    parser.add_argument("--copies", type=int, default=300)
    parser.add_argument("--slow", type=float, default=2.0, help="seconds the slow receiver takes")
    options = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("bench/webhook_throughput.py needs PostgreSQL: set DATABASE_URL")
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    s = connection.settings_dict
    database_url = f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{name}"
    receiver = Receiver()
    try:
        ids = build_sources(max(options.deliveries, options.copies), 3)
        print(f"Deliveries to a receiver on 127.0.0.1 ({name})")
        for workers in (1, 2):
            seconds = run_deliveries(ids[: options.deliveries], receiver, workers, database_url)
            rate = options.deliveries / seconds
            print(f"  {workers} deliver_webhooks: {seconds:.2f} s, {rate:.1f} deliveries/s")

        # The copies made for their create events are not run: drop them and their jobs (a
        # worker's recovery sweep would otherwise queue them again inside the next measure).
        DBTaskResult.objects.filter(status="READY").delete()
        OrderCopy.objects.filter(status=OrderCopy.Status.PENDING).delete()
        copies = ids[: options.copies]
        # Jobs of ORDER_COPY_BATCH_SIZE copies, as the API's and the admin's copies are queued.
        batch = settings.ORDER_COPY_BATCH_SIZE
        before = run_workers(copies, {}, 1, database_url, batch=batch)
        for topic in ("order_copies.start", "order_copies.complete"):
            services.webhook_create(mode="test", topic=topic, callback_url=receiver.url)
        timed = {}
        for delay in (0.0, options.slow):  # the same webhooks, a fast then a slow receiver
            receiver.delay = delay
            workers = deliverers(2, database_url)
            try:
                timed[delay] = run_workers(copies, {}, 1, database_url, batch=batch)
            finally:
                stop(workers)
        for webhook in Webhook.objects.filter(disabled_at__isnull=True):
            services.webhook_disable(webhook=webhook)
        after = run_workers(copies, {}, 1, database_url, batch=batch)
        baseline = (before + after) / 2
        fast, slow = timed[0.0], timed[options.slow]
        print(f"Copies by 1 copy_worker ({options.copies}, 3 lines each; process start included)")
        print(
            f"  no webhook (before, after): {before:.2f} s, {after:.2f} s; "
            f"{options.copies / baseline:.1f} copies/s"
        )
        print(
            f"  2 webhooks, receiver answering at once: {fast:.2f} s, "
            f"{options.copies / fast:.1f} copies/s; {baseline / fast:.3f} of no webhook (the "
            "outbox's writes and the delivery workers' share of the cores)"
        )
        print(
            f"  2 webhooks, receiver taking {options.slow:g} s: {slow:.2f} s, "
            f"{options.copies / slow:.1f} copies/s; slow / fast receiver {fast / slow:.3f} "
            "(1.000 = a slow receiver does not slow copies)"
        )
        print(f"Webhooks: {Webhook.objects.count()}, deliveries: {WebhookDelivery.objects.count()}")
    finally:
        receiver.server.shutdown()
        connection.close()
        connection.creation.destroy_test_db(name, verbosity=0)


if __name__ == "__main__":
    main()
