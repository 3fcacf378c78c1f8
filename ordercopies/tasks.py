"""Jobs run by `manage.py copy_worker` (or django-tasks-db's `db_worker`). Each is a few lines
around one service."""

from collections import Counter

from django.tasks import task

from ordercopies import services

RECOVERY_TASK_PATH = "ordercopies.tasks.order_copy_recovery_task"
EXECUTE_TASK_PATH = "ordercopies.tasks.order_copy_execute_task"


@task()
def order_copy_execute_task(*order_copy_ids: str) -> str | dict[str, int] | None:
    """Run the job's copies as one batch (a job of one copy: its status as it ended). A batch
    answers the number of copies by end status. None when the job found nothing to run."""
    ended = services.order_copy_execute_many(order_copy_ids=order_copy_ids)
    if not ended:
        return None
    if len(order_copy_ids) == 1:
        return str(ended[0].status)
    return dict(Counter(str(order_copy.status) for order_copy in ended))


@task()
def order_copy_recovery_task() -> dict[str, list[str]]:
    """One lost-copy sweep. Workers sweep on their own (`copy_worker`); this job is kept so that
    sweeps queued by earlier versions, which rescheduled themselves, still run once and end."""
    return services.order_copy_recover_lost()
