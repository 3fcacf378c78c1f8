"""Whether workers and schedulers are running, told by a lock rather than a clock.

A process enters `process_presence(kind=...)` around its loop. A thread of its own opens a
connection of its own, inserts the process's ProcessPresence row and, in the same transaction,
takes the session advisory lock (PRESENCE_LOCK, row id): the row is never visible without its
lock held. The lock lives as long as that connection, so a process that exits, crashes or is
killed is dead at once for `presence_list()`, which reads pg_locks (taking no lock itself). If
the connection is lost (a database restart), the thread registers again once it answers.

SQLite (the zero-setup demo) has no such locks: there the thread refreshes `heartbeat_at`
every HEARTBEAT_SECONDS and a row is alive while its heartbeat is younger than
HEARTBEAT_STALE_SECONDS. That is a clock, for the demo only; nothing decides a copy is lost by
it (lost copies are still told by their row lock, ordercopies/services.py).
"""

import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from health.models import ProcessPresence

logger = logging.getLogger("health.presence")

PRESENCE_LOCK = 7303  # advisory lock namespace (ordercopies uses 7301 and 7302)
HEARTBEAT_SECONDS = 5.0
HEARTBEAT_STALE_SECONDS = 20.0
TABLE = ProcessPresence._meta.db_table

# Constants only (no input): the lock namespace and the table name.
_HELD = (
    "EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted"
    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND l.classid = 7303 AND l.objsubid = 2"  # PRESENCE_LOCK
    ' AND l.objid::text::bigint = "health_processpresence"."id")'
)


def presence_list(*, kind: str | None = None) -> QuerySet[ProcessPresence]:
    """Every registered process with `alive`, in one query."""
    presences = ProcessPresence.objects.all()
    if kind:
        presences = presences.filter(kind=kind)
    if connection.vendor == "postgresql":
        alive = RawSQL(_HELD, [], output_field=BooleanField())  # noqa: S611 (constant)
        return presences.annotate(alive=alive)
    fresh = Q(heartbeat_at__gte=timezone.now() - timedelta(seconds=HEARTBEAT_STALE_SECONDS))
    return presences.annotate(alive=ExpressionWrapper(fresh, output_field=BooleanField()))


def presence_alive_counts() -> dict[str, int]:
    """Live processes by kind (every kind present, 0 when none), in one query."""
    counts = dict.fromkeys(ProcessPresence.Kind.values, 0)
    for presence in presence_list():
        if presence.alive:  # type: ignore[attr-defined]
            counts[presence.kind] += 1
    return counts


@contextmanager
def process_presence(*, kind: str) -> Iterator[threading.Thread]:
    """Announce this process as a live `kind` ("worker" or "scheduler") while the block runs."""
    holder = _PresenceHolder(kind=kind)
    holder.start()
    # Bounded: with the database away the process starts anyway; the thread keeps trying.
    holder.registered.wait(timeout=10)
    try:
        yield holder
    finally:
        holder.stopping.set()
        holder.join(timeout=10)


class _PresenceHolder(threading.Thread):
    def __init__(self, *, kind: str) -> None:
        super().__init__(name=f"{kind}-presence", daemon=True)
        self.kind = kind
        self.presence_id: int | None = None
        self.registered = threading.Event()
        self.stopping = threading.Event()

    def run(self) -> None:
        db: BaseDatabaseWrapper | None = None
        while not self.stopping.is_set():
            try:
                if db is None:
                    db = connections.create_connection(DEFAULT_DB_ALIAS)
                    self.presence_id = _register(db, kind=self.kind)
                    self.registered.set()
                    logger.info("%s presence %s registered", self.kind, self.presence_id)
                else:
                    _keep(db, presence_id=self.presence_id)
            except DatabaseError as exc:
                logger.warning("%s presence lost its connection: %s", self.kind, exc)
                _close(db)
                db = None
            self.stopping.wait(HEARTBEAT_SECONDS)
        if db is not None:
            _unregister(db, presence_id=self.presence_id)


def _register(db: BaseDatabaseWrapper, *, kind: str) -> int:
    now = db.ops.adapt_datetimefield_value(timezone.now())
    with db.cursor() as cursor:
        # Dead processes' rows (no lock held; on SQLite, no heartbeat for an hour): keep the
        # table small. The dashboard shows only live ones.
        if db.vendor == "postgresql":
            cursor.execute(f'DELETE FROM "{TABLE}" WHERE NOT {_HELD}')  # noqa: S608
        else:
            stale = db.ops.adapt_datetimefield_value(timezone.now() - timedelta(hours=1))
            cursor.execute(f'DELETE FROM "{TABLE}" WHERE heartbeat_at < %s', [stale])  # noqa: S608
    db.set_autocommit(False)
    try:
        with db.cursor() as cursor:
            cursor.execute(
                f'INSERT INTO "{TABLE}" (kind, host, pid, started_at, heartbeat_at)'  # noqa: S608
                " VALUES (%s, %s, %s, %s, %s) RETURNING id",
                [kind, socket.gethostname(), os.getpid(), now, now],
            )
            presence_id = int(cursor.fetchone()[0])
            if db.vendor == "postgresql":
                # Taken before the row commits: no reader ever sees the row without its lock.
                cursor.execute("SELECT pg_advisory_lock(%s, %s)", [PRESENCE_LOCK, presence_id])
        db.commit()
    finally:
        db.set_autocommit(True)
    return presence_id


def _keep(db: BaseDatabaseWrapper, *, presence_id: int | None) -> None:
    """PostgreSQL: check the connection (and so the lock) is still there. SQLite: heartbeat."""
    with db.cursor() as cursor:
        if db.vendor == "postgresql":
            cursor.execute("SELECT 1")
        else:
            now = db.ops.adapt_datetimefield_value(timezone.now())
            cursor.execute(
                f'UPDATE "{TABLE}" SET heartbeat_at = %s WHERE id = %s',  # noqa: S608
                [now, presence_id],
            )


def _unregister(db: BaseDatabaseWrapper, *, presence_id: int | None) -> None:
    try:
        with db.cursor() as cursor:
            cursor.execute(f'DELETE FROM "{TABLE}" WHERE id = %s', [presence_id])  # noqa: S608
    except DatabaseError as exc:  # the lock goes with the connection anyway
        logger.warning("presence %s not removed: %s", presence_id, exc)
    _close(db)


def _close(db: BaseDatabaseWrapper | None) -> None:
    if db is None:
        return
    try:
        db.close()
    except DatabaseError as exc:
        logger.debug("presence connection not closed cleanly: %s", exc)
