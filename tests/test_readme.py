"""The README, executed: every `sh` block runs in order, in one shell, against the product started
the way `make run` starts it (bin/run, on a throw-away database), and must succeed; the `js` block
runs with the Commerce Layer SDK. So the README cannot drift from what works. Also `make run`'s
promises: the banner once everything answers, a clear failure on a taken port, Ctrl-C stops all.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]
SDK_DIR = ROOT / "tests" / "sdk"
BANNER = "Order copies is running"
# Blocks that are not run here, and why. Anything else in an `sh` block runs.
NOT_RUN = {
    "make test": "it is this test suite",
}
# A command that runs until stopped is given a few seconds, then SIGTERM, and must exit 0.
UNTIL_STOPPED = "# runs until stopped"

pytestmark = [pytest.mark.slow]


@dataclass(frozen=True)
class Block:
    language: str
    line: int
    text: str


def readme_blocks() -> list[Block]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [
        Block(m["language"], text[: m.start()].count("\n") + 1, m["body"])
        for m in re.finditer(r"^```(?P<language>\w+)\n(?P<body>.*?)^```$", text, re.M | re.S)
    ]


def shell_script(blocks: list[Block]) -> str:
    """One script of every runnable `sh` block, each announced so a failure names its line."""
    parts = ["set -euo pipefail"]
    for block in blocks:
        if block.language != "sh" or any(marker in block.text for marker in NOT_RUN):
            continue
        parts.append(f"echo '>>> README.md line {block.line}' >&2")
        for line in block.text.splitlines():
            if line.rstrip().endswith(UNTIL_STOPPED):
                line = f"timeout --preserve-status -s TERM 5 {line}"
            parts.append(line)
    return "\n".join(parts) + "\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def product_database() -> Iterator[str]:
    """A database of its own, as a new user's: PostgreSQL when the suite runs on it, else a file."""
    if connection.vendor != "postgresql":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/readme.sqlite3"
        return
    s = connection.settings_dict
    server = f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}"
    name = f"readme_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Product:
    process: subprocess.Popen[bytes]
    url: str
    env: dict[str, str]
    output: Path

    def text(self) -> str:
        return self.output.read_text(errors="replace")


@pytest.fixture
def product(product_database: str, tmp_path: Path) -> Iterator[Product]:
    """bin/run (what `make run` runs once the virtualenv exists), until its banner."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": product_database,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "RUN_LOG_DIR": str(tmp_path / "logs"),
        "DEBUG": "true",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    output = tmp_path / "run.out"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            ["bin/run"], cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    running = Product(process, f"http://127.0.0.1:{port}", env, output)
    try:
        deadline = time.monotonic() + 180
        while BANNER not in running.text():
            assert process.poll() is None, f"bin/run exited early:\n{running.text()[-4000:]}"
            assert time.monotonic() < deadline, f"no banner after 180 s:\n{running.text()[-4000:]}"
            time.sleep(0.5)
        yield running
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's group
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                raise


def _children_of(pid: int) -> list[str]:
    found = subprocess.run(["pgrep", "-a", "-g", str(pid)], capture_output=True, text=True)
    return [line for line in found.stdout.splitlines() if "manage.py" in line]


def test_the_readme_examples_work_as_written(product: Product) -> None:
    blocks = readme_blocks()
    script = shell_script(blocks)
    assert "curl" in script and "create_api_client" in script and "copy_orders" in script
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=ROOT,
        env={**product.env, "API": product.url},
        capture_output=True,
        text=True,
        timeout=420,
    )
    assert result.returncode == 0, (
        f"a README example failed (exit {result.returncode}); the last '>>>' names its block\n"
        f"--- stderr\n{result.stderr[-6000:]}\n--- stdout\n{result.stdout[-3000:]}"
    )
    _run_the_js_example(blocks, product)


def _run_the_js_example(blocks: list[Block], product: Product) -> None:
    scripts = [block for block in blocks if block.language == "js"]
    assert len(scripts) == 1, "the README has one JS example"
    if shutil.which("node") is None:
        pytest.skip("the JS example needs Node.js 20+ and npm")
    if not (SDK_DIR / "node_modules" / "@commercelayer" / "sdk").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=SDK_DIR, check=True)
    token = subprocess.run(
        [sys.executable, "manage.py", "demo_token"],
        cwd=ROOT, env=product.env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    example = SDK_DIR / f"readme-{uuid.uuid4().hex[:8]}.mjs"  # beside node_modules
    example.write_text(scripts[0].text)
    try:
        result = subprocess.run(
            ["node", example.name],
            cwd=SDK_DIR,
            env={**product.env, "API": product.url, "TOKEN": token},
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        example.unlink()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"copy \w{10} completed", result.stdout), result.stdout


def test_make_run_prints_its_banner_once_everything_answers_and_ctrl_c_stops_all(
    product: Product,
) -> None:
    text = product.text()
    # The banner comes after the worker, the scheduler and the webhook worker said they
    # started, and after the web server answered its home page.
    banner = text.index(BANNER)
    assert text.index("Starting worker") < banner
    assert text.index("Scheduler started") < banner
    assert text.index("Webhook worker started") < banner
    assert text.index("GET / HTTP") < banner
    assert text.count(BANNER) == 1
    # Each log line once (Django's own handler and ours used to print django.* twice).
    worker_start = [line for line in text.splitlines() if "Starting worker" in line]
    assert len(worker_start) == 1, worker_start
    assert len(_children_of(product.process.pid)) == 4
    os.killpg(product.process.pid, signal.SIGINT)
    product.process.wait(timeout=30)
    deadline = time.monotonic() + 10
    while _children_of(product.process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _children_of(product.process.pid) == []


def test_make_run_fails_clearly_when_its_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            ["bin/run"],
            cwd=ROOT,
            env={**os.environ, "PORT": str(port), "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"127.0.0.1:{port} is already in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert BANNER not in result.stdout
    assert not (tmp_path / "x.db").exists(), "nothing starts, not even the migration"
