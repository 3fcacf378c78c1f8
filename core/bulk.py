"""New model instances inserted in bulk, in one statement per table: `COPY … FROM STDIN` on
PostgreSQL, multi-row `INSERT … VALUES` with parameters elsewhere (SQLite).

Django's bulk_create prepares every value through its compiler, and psycopg then parses an
INSERT of thousands of placeholders (or dumps UNNEST arrays element by element): for the rows
of a copy batch that was most of the batch's time. Here each model's columns are classified
once: plain columns (text, integers, booleans, keys to them; datetimes on PostgreSQL) go to the
driver as they are, the others (JSON, decimals…) through the field's own `get_db_prep_save`.
Ids are the instances' own (generated in Python), so nothing is read back. The COPY is logged
as one query, like any other statement, so that query counts stay honest.
"""

import contextlib
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from django.db import connection, models
from django.db.backends.utils import CursorDebugWrapper
from django.utils import timezone

PLAIN: tuple[type[models.Field[Any, Any]], ...] = (
    models.CharField,
    models.TextField,
    models.IntegerField,
    models.BooleanField,
)

Prepare = Callable[[Any], Any] | None
Layout = tuple[list[str], list[str], list[Prepare], list[str]]


def rows_insert(objs: Sequence[models.Model]) -> None:
    """Insert `objs` (all of one model, primary keys set): one statement on PostgreSQL, as few
    as SQLite's parameter limit allows elsewhere. auto_now(_add) columns take the time each row
    is built, as with bulk_create (events are ordered by it)."""
    if not objs:
        return
    model = type(objs[0])
    columns, attnames, prepares, stamped = _layout(model, connection.vendor)
    rows = []
    for obj in objs:
        now = timezone.now()
        for attname in stamped:
            setattr(obj, attname, now)
        values = [getattr(obj, attname) for attname in attnames]
        rows.append([v if p is None else p(v) for v, p in zip(values, prepares, strict=True)])
        obj._state.adding = False
        obj._state.db = connection.alias
    quote = connection.ops.quote_name
    table = f"{quote(model._meta.db_table)} ({', '.join(map(quote, columns))})"
    if connection.vendor == "postgresql":
        _copy(f"COPY {table} FROM STDIN", rows)
    else:
        _values(f"INSERT INTO {table} VALUES ", rows, columns=columns, objs=objs)  # noqa: S608


def _copy(sql: str, rows: list[list[Any]]) -> None:
    with connection.cursor() as cursor:
        debug = isinstance(cursor, CursorDebugWrapper)
        logged = cursor.debug_sql(sql) if debug else contextlib.nullcontext()
        with logged, connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)


def _values(head: str, rows: list[list[Any]], *, columns: list[str], objs: Sequence[Any]) -> None:
    size = max(connection.ops.bulk_batch_size(columns, objs), 1)
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]
            cursor.execute(head + ", ".join([row] * len(chunk)), [v for r in chunk for v in r])


@cache
def _layout(model: type[models.Model], vendor: str) -> Layout:
    columns, attnames, prepares, stamped = [], [], [], []
    for field in model._meta.concrete_fields:
        columns.append(str(field.column))
        attnames.append(field.attname)
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            stamped.append(field.attname)
        prepares.append(_prepare(field, vendor))
    return columns, attnames, prepares, stamped


def _prepare(field: Any, vendor: str) -> Prepare:
    target = field.target_field if field.is_relation else field
    plain = PLAIN + ((models.DateTimeField,) if vendor == "postgresql" else ())
    if isinstance(target, plain) and type(target).get_db_prep_save is models.Field.get_db_prep_save:
        return None
    return lambda value: field.get_db_prep_save(value, connection)


def instance_build[M: models.Model](model: type[M], **values: Any) -> M:
    """A new instance of `model` from field values (a related object or None by the field's
    name, a key by its attname), the others defaulted: through Model(*args), the fast path
    Django keeps for rows read back, instead of the keyword path (a tenth of a copy batch's
    time for its lines, addresses and events). Related objects given are cached on it."""
    args = []
    related = []
    for field, default in _defaults(model):
        if field.name in values and field.is_relation:
            value = values[field.name]
            args.append(None if value is None else value.pk)
            related.append((field, value))
        elif field.attname in values:
            args.append(values[field.attname])
        else:
            args.append(default())
    obj = model(*args)
    for field, value in related:
        field.set_cached_value(obj, value)
    return obj


@cache
def _defaults(model: type[models.Model]) -> list[tuple[Any, Callable[[], Any]]]:
    # Django's own default getter of each field (a constant's or the callable itself).
    return [(field, field._get_default) for field in model._meta.concrete_fields]  # type: ignore[attr-defined]
