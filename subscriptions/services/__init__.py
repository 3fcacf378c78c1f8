"""Every write to order subscriptions. Views, admin actions, signals and the scheduler call these.

- lifecycle.py: create, update, delete, activate, deactivate, cancel, activation by placement;
- runs.py: run now, a run's start and end, closing runs whose copy ended without telling;
- schedule.py: one pass of the scheduler.
"""

from subscriptions.services.lifecycle import (
    order_subscription_activate,
    order_subscription_activate_by_source_order,
    order_subscription_cancel,
    order_subscription_create,
    order_subscription_deactivate,
    order_subscription_delete,
    order_subscription_update,
)
from subscriptions.services.runs import (
    order_subscription_close_lost_runs,
    order_subscription_run,
    order_subscription_runs_end,
)
from subscriptions.services.schedule import (
    SCHEDULER,
    SchedulerReport,
    order_subscription_run_due,
)

__all__ = [
    "SCHEDULER",
    "SchedulerReport",
    "order_subscription_activate",
    "order_subscription_activate_by_source_order",
    "order_subscription_cancel",
    "order_subscription_close_lost_runs",
    "order_subscription_create",
    "order_subscription_deactivate",
    "order_subscription_delete",
    "order_subscription_run",
    "order_subscription_run_due",
    "order_subscription_runs_end",
    "order_subscription_update",
]
