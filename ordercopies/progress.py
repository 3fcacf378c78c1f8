"""Waiting for copies with a progress bar, and the end-of-run summary the commands print."""

import time
from collections.abc import Callable, Sequence

from tqdm import tqdm

from ordercopies import selectors
from ordercopies.models import OrderCopy

ENDED = (OrderCopy.Status.COMPLETED, OrderCopy.Status.FAILED, OrderCopy.Status.ABORTED)


def copies_wait(
    *, ids: Sequence[str], timeout: float, poll: float = 0.5, stream: object = None
) -> bool:
    """Poll until every copy has ended or `timeout` seconds pass; True when all ended."""
    deadline = time.monotonic() + timeout
    with tqdm(total=len(ids), unit="copy", desc="Copies", file=stream, disable=None) as bar:
        while True:
            counts = selectors.order_copy_status_counts(ids=ids)
            ended = sum(counts.get(status, 0) for status in ENDED)
            bar.update(ended - bar.n)
            bar.set_postfix(completed=counts.get("completed", 0), failed=counts.get("failed", 0))
            if ended >= len(ids):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll)


def copies_run_here(
    *, ids: Sequence[str], execute: Callable[[str], object], stream: object = None
) -> None:
    """Run the copies in this process, one after the other, with a progress bar."""
    for copy_id in tqdm(ids, unit="copy", desc="Copies", file=stream, disable=None):
        execute(copy_id)


def copies_summary(*, ids: Sequence[str]) -> str:
    counts = selectors.order_copy_status_counts(ids=ids)
    lines = [
        f"{len(ids)} copies: "
        + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()) if n)
    ]
    top = selectors.order_copy_top_errors(ids=ids)
    if top:
        lines.append("Most frequent errors:")
        lines.extend(f"  {n:>5} × {message}" for message, n in top)
    return "\n".join(lines)
