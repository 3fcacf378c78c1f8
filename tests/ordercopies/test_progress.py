"""The progress bar of the copy commands, in a real pseudo-terminal.

Each test runs `manage.py` in a subprocess whose stderr is a pty (stdout is a pipe), against a
SQLite file of its own: a subprocess cannot see pytest-django's in-memory database. The file is
migrated once per module, copied for each test and seeded through a subprocess too.
"""

import io
import json
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import time
from fcntl import ioctl
from pathlib import Path
from termios import TIOCSWINSZ

import pytest
from django.core.management.base import OutputWrapper

from ordercopies.progress import copies_counted, terminal_stream

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
COLUMNS = 120

# Builds `ok` orders that copy and `out_of_stock` orders whose copy fails, like the make_order
# fixture; prints their ids as JSON.
SEED = """
import json, sys
import django
django.setup()
from orders import services
from tests import factories

ok, out_of_stock = int(sys.argv[1]), int(sys.argv[2])
market = factories.MarketFactory(code="eu", currency_code="EUR")

def make_order(stock):
    customer = factories.CustomerFactory()
    wallet = factories.CustomerPaymentSourceFactory(customer=customer)
    order = services.order_create(market=market, customer_email=customer.email)
    sku = factories.SkuFactory(stock_quantity=stock)
    factories.SkuPriceFactory(sku=sku, market=market)
    services.order_line_item_add(order=order, sku=sku, quantity=1)
    services.order_update(
        order=order,
        shipping_address=factories.AddressFactory(),
        billing_address=factories.AddressFactory(),
        payment_method=factories.PaymentMethodFactory(market=market),
        payment_source=wallet.payment_source,
    )
    return order.pk

print(json.dumps({
    "ok": [make_order(100) for _ in range(ok)],
    "out_of_stock": [make_order(0) for _ in range(out_of_stock)],
}))
"""

BAR = re.compile(r"Copies: +\d+%\|.*\| (\d+)/(\d+) \[[^\]]*\]")
POSTFIX = re.compile(r"completed=(\d+), failed=(\d+)(?:, aborted=(\d+))?\]")


def _env(database: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TQDM_")}
    # Every update drawn (tqdm reads its defaults from TQDM_* variables): there are few here.
    return {
        **env,
        "DATABASE_URL": f"sqlite:///{database}",
        "DEBUG": "true",
        "LOG_LEVEL": "WARNING",
        "TQDM_MININTERVAL": "0",
        **extra,
    }


def _manage(database: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=_env(database, **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    database = tmp_path_factory.mktemp("progress") / "migrated.sqlite3"
    result = _manage(database, "migrate", "--verbosity", "0")
    assert result.returncode == 0, result.stderr
    return database


@pytest.fixture
def database(migrated: Path, tmp_path: Path) -> Path:
    database = tmp_path / "db.sqlite3"
    shutil.copyfile(migrated, database)
    return database


def _seed(database: Path, *, ok: int, out_of_stock: int) -> dict[str, list[str]]:
    result = subprocess.run(
        [PYTHON, "-c", SEED, str(ok), str(out_of_stock)],
        cwd=ROOT,
        env=_env(database),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _in_terminal(
    database: Path, *args: str, timeout: float = 120, **env: str
) -> tuple[int, str, str]:
    """Run `manage.py *args` with stdout and stderr on two ptys of COLUMNS columns, as in a
    terminal (Django styles its output only when stdout is a terminal): (exit status, what
    stdout showed, everything written to stderr's terminal)."""
    ptys = [pty.openpty() for _ in range(2)]
    for _, follower in ptys:
        ioctl(follower, TIOCSWINSZ, struct.pack("HHHH", 40, COLUMNS, 0, 0))
    process = subprocess.Popen(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=_env(database, **env),
        stdin=subprocess.DEVNULL,
        stdout=ptys[0][1],
        stderr=ptys[1][1],
    )
    for _, follower in ptys:
        os.close(follower)
    out, err = _read_until_closed(
        [leader for leader, _ in ptys], deadline=time.monotonic() + timeout
    )
    if out is None:
        process.kill()
        process.wait(timeout=30)
        pytest.fail(f"the command did not end in {timeout} s")
    return process.wait(timeout=30), out.decode().replace("\r\n", "\n"), err.decode()


def _read_until_closed(leaders: list[int], *, deadline: float) -> list[bytes] | tuple[None, None]:
    """Everything written to each pty until its writers close it; (None, None) on timeout."""
    chunks: dict[int, list[bytes]] = {leader: [] for leader in leaders}
    open_leaders = set(leaders)
    try:
        while open_leaders:
            if time.monotonic() > deadline:
                return None, None
            ready, _, _ = select.select(list(open_leaders), [], [], 0.5)
            for leader in ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: every writer of the pty has closed it
                    chunk = b""
                if chunk:
                    chunks[leader].append(chunk)
                else:
                    open_leaders.discard(leader)
    finally:
        for leader in leaders:
            os.close(leader)
    return [b"".join(chunks[leader]) for leader in leaders]


def _screen(terminal: str) -> list[str]:
    """What the terminal shows: each line as its carriage returns left it."""
    lines = []
    for line in terminal.replace("\r\n", "\n").split("\n"):
        shown = ""
        for part in line.split("\r"):
            shown = part + shown[len(part) :]
        lines.append(shown.rstrip())
    return [line for line in lines if line]


def _bar_line(terminal: str) -> str:
    """The one terminal line (ended by the pty's \\r\\n) that holds the bar's updates."""
    lines = [line for line in terminal.split("\r\n") if "Copies:" in line]
    assert len(lines) == 1, lines
    return lines[0]


def _assert_counts_current(updates: list[str], *, total: int) -> None:
    """Each drawing shows counts that add up to its own progress: none lags behind."""
    for update in updates:
        bar = BAR.search(update)
        assert bar, update
        done = int(bar.group(1))
        assert int(bar.group(2)) == total
        postfix = POSTFIX.search(update)
        if done:
            assert postfix, update
        if postfix:
            counts = [int(count or 0) for count in postfix.groups()]
            assert sum(counts) == done, update


@pytest.mark.slow
def test_sync_bar_is_one_line_redrawn_in_place_with_current_counts(database):
    orders = _seed(database, ok=4, out_of_stock=2)
    ids = [arg for pk in orders["ok"] + orders["out_of_stock"] for arg in ("--order", pk)]

    status, stdout, terminal = _in_terminal(database, "copy_orders", *ids, "--sync")

    assert status == 2, terminal
    line = _bar_line(terminal)
    assert "\n" not in line
    assert "\x1b" not in line  # no bold red: the bar is not written in the error style
    updates = [part for part in line.split("\r") if part.strip()]
    assert len(updates) >= 4  # drawn at 0, then after the copies: in place, one line
    _assert_counts_current(updates, total=6)
    shown = [row for row in _screen(terminal) if "Copies:" in row]
    assert len(shown) == 1  # the last drawing is not left twice
    assert "6/6" in shown[0] and "completed=4, failed=2" in shown[0]
    assert re.search(r"\d+(\.\d+)?copy/s|s/copy", shown[0])  # its rate
    # Styling is on in this terminal: the error itself is bold red, the bar is not.
    assert "\x1b[31;1mCommandError: failed or aborted: 2 of 6 order copies" in terminal
    assert "Created 6 order copies:" in stdout
    assert "6 order copies: 4 completed, 2 failed." in stdout
    assert "Copies:" not in stdout


@pytest.mark.slow
def test_log_lines_go_above_the_bar_without_breaking_it(database):
    orders = _seed(database, ok=3, out_of_stock=0)
    ids = [arg for pk in orders["ok"] for arg in ("--order", pk)]

    status, stdout, terminal = _in_terminal(
        database, "copy_orders", *ids, "--sync", LOG_LEVEL="INFO"
    )

    assert status == 0, terminal
    screen = _screen(terminal)
    started = [row for row in screen if re.search(r"order copy \w+ started \(attempt 1\)$", row)]
    assert len(started) == 3  # each log line whole, on a line of its own
    bars = [row for row in screen if "Copies:" in row]
    assert len(bars) == 1 and "3/3" in bars[0] and "completed=3, failed=0" in bars[0]
    assert screen[-1] == bars[0]  # the bar stays the bottom line
    assert "\x1b" not in terminal  # nothing in the error style when nothing went wrong
    assert "3 order copies: 3 completed." in stdout


@pytest.mark.slow
def test_retry_wait_follows_a_real_worker_and_exits_2_when_every_copy_failed(database):
    orders = _seed(database, ok=0, out_of_stock=2)
    ids = [arg for pk in orders["out_of_stock"] for arg in ("--order", pk)]
    first = _manage(database, "copy_orders", *ids, "--sync", "--json")
    assert first.returncode == 2, first.stderr
    failed = json.loads(first.stdout)["failed"]
    assert len(failed) == 2
    worker = subprocess.Popen(
        [PYTHON, "manage.py", "db_worker", "--no-reload", "--interval", "0.1"],
        cwd=ROOT,
        env=_env(database),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        status, stdout, terminal = _in_terminal(
            database, "retry_order_copies", "--wait", "--timeout", "90"
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)

    assert status == 2, terminal
    line = _bar_line(terminal)
    assert "\x1b" not in line
    _assert_counts_current([p for p in line.split("\r") if p.strip()], total=2)
    shown = [row for row in _screen(terminal) if "Copies:" in row]
    assert len(shown) == 1 and "2/2" in shown[0] and "completed=0, failed=2" in shown[0]
    assert f"Retried 2 order copies: {', '.join(failed)}; 0 refused." in stdout
    assert all(pk in stdout for pk in failed)  # the failed copies, by id, in the summary
    assert "CommandError: failed or aborted: 2 of 2 order copies" in terminal


@pytest.mark.slow
def test_json_keeps_stdout_to_the_document_and_the_bar_on_stderr(database):
    orders = _seed(database, ok=2, out_of_stock=0)
    ids = [arg for pk in orders["ok"] for arg in ("--order", pk)]

    status, stdout, terminal = _in_terminal(database, "copy_orders", *ids, "--sync", "--json")

    assert status == 0, terminal
    document = json.loads(stdout)  # all of stdout is the one document
    assert document["counts"] == {"completed": 2}
    assert document["exit_status"] == 0
    assert "2/2" in _bar_line(terminal)
    assert "Created" not in terminal + stdout  # the text for people is left out


@pytest.mark.slow
def test_no_bar_when_stderr_is_not_a_terminal(database):
    orders = _seed(database, ok=1, out_of_stock=0)

    result = _manage(database, "copy_orders", "--order", orders["ok"][0], "--sync")

    assert result.returncode == 0, result.stderr
    assert "Copies:" not in result.stderr + result.stdout
    assert "1 order copy: 1 completed." in result.stdout


@pytest.mark.slow
def test_wait_off_a_terminal_ends_when_the_worker_has_run_every_copy(database):
    # Without a terminal there is no bar to count on: the wait must still see the copies end
    # (it once waited for its timeout, as the README test found).
    orders = _seed(database, ok=2, out_of_stock=0)
    ids = [arg for pk in orders["ok"] for arg in ("--order", pk)]
    worker = subprocess.Popen(
        [PYTHON, "manage.py", "db_worker", "--no-reload", "--interval", "0.1"],
        cwd=ROOT,
        env=_env(database),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        result = _manage(database, "copy_orders", *ids, "--wait", "--timeout", "60", "--json")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)

    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["counts"] == {"completed": 2}
    assert document["timed_out"] is False


def test_the_bar_is_drawn_on_the_stream_under_the_commands_wrapper():
    stream = io.StringIO()
    assert terminal_stream(OutputWrapper(stream)) is stream
    assert terminal_stream(stream) is stream


@pytest.mark.parametrize(
    ("number", "text"), [(0, "0 order copies"), (1, "1 order copy"), (2, "2 order copies")]
)
def test_copies_are_counted_in_good_english(number, text):
    assert copies_counted(number) == text
