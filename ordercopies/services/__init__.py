"""Every write to order copies. Views, admin actions, tasks and commands call these.

- lifecycle.py: create (queued in the same transaction), retry, abort, launch, update, delete;
- running.py: claim and run copies, one or a batch at a time, through `ordercopies.engine`;
- plans.py: what a copy would do, by the engine's own checks, writing nothing;
- recovery.py: the sweep that finds lost copies;
- common.py: transient errors and their backoff, lock keys, the job queue.
"""

import time  # noqa: F401 (tests slow the backoff down through services.time)

from ordercopies.exceptions import WorkerLost
from ordercopies.services.common import (
    DATABASE_OUTAGE_WAIT,
    SWEEP_LOCK,
    TRANSIENT_ERRORS,
    WORKER_LOCK,
    copies_queued_together,
    database_wait,
    plural,
)
from ordercopies.services.lifecycle import (
    order_copy_abort,
    order_copy_create,
    order_copy_create_many,
    order_copy_delete,
    order_copy_launch,
    order_copy_retry,
    order_copy_update,
)
from ordercopies.services.plans import order_copy_plan, order_copy_plan_many
from ordercopies.services.recovery import order_copy_recover_lost
from ordercopies.services.running import (
    order_copy_claim,
    order_copy_claim_many,
    order_copy_execute,
    order_copy_execute_many,
    order_copy_run,
    order_copy_run_many,
)

__all__ = [
    "DATABASE_OUTAGE_WAIT",
    "SWEEP_LOCK",
    "TRANSIENT_ERRORS",
    "WORKER_LOCK",
    "WorkerLost",
    "copies_queued_together",
    "database_wait",
    "order_copy_abort",
    "order_copy_claim",
    "order_copy_claim_many",
    "order_copy_create",
    "order_copy_create_many",
    "order_copy_delete",
    "order_copy_execute",
    "order_copy_execute_many",
    "order_copy_launch",
    "order_copy_plan",
    "order_copy_plan_many",
    "order_copy_recover_lost",
    "order_copy_retry",
    "order_copy_run",
    "order_copy_run_many",
    "order_copy_update",
    "plural",
]
