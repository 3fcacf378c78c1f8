"""A real HTTP receiver on 127.0.0.1 (a thread running http.server), scripted per test."""

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """Answers each POST with the next of `script` (an HTTP status, or "hang": no answer
    until the test ends), then with `default`; records every request."""

    url: str = ""
    script: list[Any] = field(default_factory=list)
    default: Any = 200
    delay: float = 0.0
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    released: threading.Event = field(default_factory=threading.Event)

    def next_answer(self) -> Any:
        with self.lock:
            return self.script.pop(0) if self.script else self.default

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.requests) >= count:
                return list(self.requests)
            time.sleep(0.02)
        raise AssertionError(f"{len(self.requests)} requests received, {count} expected")


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with receiver.lock:
                receiver.requests.append(
                    Received(self.path, dict(self.headers.items()), body, time.monotonic())
                )
            answer = receiver.next_answer()
            if answer == "hang":
                receiver.released.wait(60)
                return
            if receiver.delay:
                time.sleep(receiver.delay)
            self.send_response(int(answer))
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.released.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _webhooks_may_call_loopback(settings: Any) -> None:
    """The receivers listen on 127.0.0.1: the SSRF guard lets loopback through in these tests
    (its refusals are tested with the setting off)."""
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    settings.WEBHOOKS_TIMEOUT = 1.0
    settings.WEBHOOKS_RETRY_BASE = 0.05
    settings.WEBHOOKS_RETRY_MAX = 0.4


# The API's callers and documents (tests/api/conftest.py), for the webhooks' API tests.
from tests.api.conftest import _fresh_throttles, api, live_api, make_api  # noqa: E402, F401
