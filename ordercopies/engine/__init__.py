"""The copy engine: one path for every copy, a single copy being a batch of one.

1. `batch_load` (loading.py) reads everything the batch needs in a fixed number of queries,
   locking what its writes depend on;
2. `copies_check` (checks.py) decides each copy in Python, in order, moving stock and coupon
   usage in memory so that copies competing for them are served first come, first served;
3. `outcomes_write` (writes.py) stores the outcomes in bulk.

`copies_run` runs the three in the caller's transaction (which holds the copies' row locks);
`ordercopies/services` claims, retries and falls back to one copy at a time around it.
"""

from collections.abc import Sequence

from core.actors import SYSTEM, Actor
from ordercopies.engine.checks import CopyOutcome, copies_check
from ordercopies.engine.loading import Batch, batch_load
from ordercopies.engine.writes import copies_end, outcomes_write
from ordercopies.models import OrderCopy

__all__ = [
    "Batch",
    "CopyOutcome",
    "batch_load",
    "copies_check",
    "copies_end",
    "copies_run",
    "outcomes_write",
]


def copies_run(copies: Sequence[OrderCopy], *, actor: Actor = SYSTEM) -> list[OrderCopy]:
    """Check and write a batch of claimed copies whose rows the caller holds locked."""
    batch = batch_load(copies=copies, lock=True)
    return outcomes_write(copies_check(batch), at=batch.at, actor=actor)
