"""Jobs run by `manage.py copy_worker` (or django-tasks-db's `db_worker`). Each is a few lines
around one service."""

from django.tasks import task

from ordercopies import services

RECOVERY_TASK_PATH = "ordercopies.tasks.order_copy_recovery_task"
EXECUTE_TASK_PATH = "ordercopies.tasks.order_copy_execute_task"


@task()
def order_copy_execute_task(order_copy_id: str) -> str | None:
    """The copy's status as it ended; None when the job found nothing to run (logged)."""
    order_copy = services.order_copy_execute(order_copy_id=order_copy_id)
    return order_copy.status if order_copy else None


@task()
def order_copy_recovery_task() -> dict[str, list[str]]:
    """One lost-copy sweep. Workers sweep on their own (`copy_worker`); this job is kept so that
    sweeps queued by earlier versions, which rescheduled themselves, still run once and end."""
    return services.order_copy_recover_lost()
