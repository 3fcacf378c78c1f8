"""Jobs run by `manage.py db_worker`. Each is a few lines around one service."""

from datetime import timedelta

from django.conf import settings
from django.tasks import task
from django.utils import timezone

from ordercopies import services

RECOVERY_TASK_PATH = "ordercopies.tasks.order_copy_recovery_task"
EXECUTE_TASK_PATH = "ordercopies.tasks.order_copy_execute_task"


@task()
def order_copy_execute_task(order_copy_id: str) -> str | None:
    order_copy = services.order_copy_execute(order_copy_id=order_copy_id)
    return order_copy.status if order_copy else None


@task()
def order_copy_recovery_task() -> dict[str, list[str]]:
    """The lost-copy sweep. It schedules its own next run, so it goes on as long as any worker
    runs, without a cron entry anyone must remember."""
    try:
        return services.order_copy_recover_lost()
    finally:
        order_copy_recovery_schedule()


def order_copy_recovery_schedule() -> None:
    """Queue the next sweep unless one is already waiting (a cheap, indexed check)."""
    from django_tasks_db.models import DBTaskResult

    waiting = DBTaskResult.objects.filter(task_path=RECOVERY_TASK_PATH, status="READY")
    if not waiting.exists():
        run_after = timezone.now() + timedelta(seconds=settings.ORDER_COPY_RECOVERY_INTERVAL)
        order_copy_recovery_task.using(run_after=run_after).enqueue()
