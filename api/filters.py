"""Commerce Layer's Ransack-style filters, `filter[q][<attribute>_<predicate>]=value`, and
`sort=a,-b`, on the attributes and relationship paths a viewset lists. Anything else is a 400
FILTER_NOT_ALLOWED: a filter is never silently ignored."""

import json
import re
from datetime import UTC
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import connection, models
from django.db.models import Q, QuerySet
from django.utils import timezone
from rest_framework.filters import BaseFilterBackend
from rest_framework.request import Request

from api.exceptions import ApiError, FilterNotAllowed

FILTER_PARAM = re.compile(r"^filter\[q\]\[(?P<key>[a-z0-9_]+)\]$")
LIST_PREDICATES = {"in", "not_in"}
FLAG_PREDICATES = {"null", "not_null", "present", "blank", "true", "false"}
# Longest first, so `not_eq` wins over `eq` and `not_null` over `null`.
PREDICATES = sorted(
    [
        "eq", "not_eq", "in", "not_in", "lt", "lteq", "gt", "gteq", "cont", "not_cont",
        "start", "end", "matches", "null", "not_null", "present", "blank", "true", "false",
        "jcont",
    ],
    key=len,
    reverse=True,
)  # fmt: skip
LOOKUPS = {
    "eq": "exact",
    "lt": "lt",
    "lteq": "lte",
    "gt": "gt",
    "gteq": "gte",
    "cont": "icontains",
    "start": "istartswith",
    "end": "iendswith",
    "in": "in",
}
TRUE_VALUES = {"true", "1", "t", "yes"}
FALSE_VALUES = {"false", "0", "f", "no"}


def split_key(key: str, allowed: dict[str, str]) -> tuple[str, str]:
    """`source_order_number_not_eq` → ("source_order_number", "not_eq") for a listed attribute."""
    for predicate in PREDICATES:
        suffix = f"_{predicate}"
        if key.endswith(suffix) and key[: -len(suffix)] in allowed:
            return key[: -len(suffix)], predicate
    raise FilterNotAllowed(
        f"filter[q][{key}] is not allowed: filter on one of {', '.join(sorted(allowed))} "
        f"with a predicate ({', '.join(sorted(PREDICATES))})"
    )


def model_field(model: type[models.Model], path: str) -> models.Field[Any, Any]:
    field: Any = None
    for part in path.split("__"):
        field = model._meta.get_field(part)
        if field.is_relation and field.related_model is not None:
            model = field.related_model
    if field is None or field.is_relation:
        raise FieldDoesNotExist(path)
    return field  # type: ignore[no-any-return]


def condition(model: type[models.Model], path: str, predicate: str, raw: str, key: str) -> Q:
    field = model_field(model, path)
    if predicate in FLAG_PREDICATES:
        return _flag(path, predicate, _boolean(raw, key), field)
    if predicate == "jcont":
        return _json_contains(path, raw, key, field)
    if predicate in LIST_PREDICATES:
        values = [_value(field, item, key) for item in raw.split(",")]
        q = Q(**{f"{path}__in": values})
        return ~q if predicate == "not_in" else q
    if predicate == "matches":
        pattern = "^" + re.escape(raw).replace("%", ".*").replace("_", ".") + "$"
        return Q(**{f"{path}__iregex": pattern})
    negate = predicate.startswith("not_")
    lookup = LOOKUPS[predicate.removeprefix("not_")]
    value = raw if lookup.startswith("i") else _value(field, raw, key)
    q = Q(**{f"{path}__{lookup}": value})
    return ~q if negate else q


def _flag(path: str, predicate: str, flag: bool, field: models.Field[Any, Any]) -> Q:
    if predicate in ("true", "false"):
        if not isinstance(field, models.BooleanField):
            raise FilterNotAllowed(f"_{predicate} needs a boolean attribute")
        wanted = flag if predicate == "true" else not flag
        return Q(**{path: wanted})
    empty = Q(**{f"{path}__isnull": True})
    if isinstance(field, models.CharField | models.TextField):
        empty |= Q(**{path: ""})
    if predicate == "null":
        q = Q(**{f"{path}__isnull": True})
    elif predicate == "not_null":
        q = Q(**{f"{path}__isnull": False})
    elif predicate == "blank":
        q = empty
    else:
        q = ~empty
    return q if flag else ~q


def _json_contains(path: str, raw: str, key: str, field: models.Field[Any, Any]) -> Q:
    if not isinstance(field, models.JSONField):
        raise FilterNotAllowed(f"filter[q][{key}]: _jcont needs a JSON attribute")
    if connection.vendor != "postgresql":
        raise FilterNotAllowed(f"filter[q][{key}]: _jcont needs the PostgreSQL database")
    try:
        value = json.loads(raw)
    except ValueError:
        raise FilterNotAllowed(f"filter[q][{key}] must be a JSON object, got {raw!r}") from None
    if not isinstance(value, dict):
        raise FilterNotAllowed(f"filter[q][{key}] must be a JSON object, got {raw!r}")
    return Q(**{f"{path}__contains": value})


def _boolean(raw: str, key: str) -> bool:
    if raw.lower() in TRUE_VALUES:
        return True
    if raw.lower() in FALSE_VALUES:
        return False
    raise FilterNotAllowed(f"filter[q][{key}] must be true or false, got {raw!r}")


def _value(field: models.Field[Any, Any], raw: str, key: str) -> Any:
    if isinstance(field, models.BooleanField):
        return _boolean(raw, key)
    try:
        value = field.to_python(raw)
        if isinstance(field, models.DateTimeField | models.DateField) and value is None:
            raise ValidationError("empty")
        if isinstance(field, models.DateTimeField) and timezone.is_naive(value):
            value = value.replace(tzinfo=UTC)  # times without an offset are UTC, as ours
        return value
    except ValidationError:
        raise FilterNotAllowed(
            f"filter[q][{key}]: {raw!r} is not a valid {field.get_internal_type()} value"
        ) from None


class QueryFilter(BaseFilterBackend):
    """Reads `filter[q][...]` against the view's `filter_fields` (attribute → ORM path)."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> Any:
        allowed: dict[str, str] = getattr(view, "filter_fields", {})
        for param, raw in request.query_params.items():
            raw = str(raw)
            if not param.startswith("filter"):
                continue
            match = FILTER_PARAM.match(param)
            if match is None:
                raise FilterNotAllowed(f"{param} is not a filter: use filter[q][<attr>_<pred>]")
            key = match["key"]
            if "\x00" in raw:
                raise FilterNotAllowed(f"filter[q][{key}] must not contain NUL characters")
            attribute, predicate = split_key(key, allowed)
            queryset = queryset.filter(
                condition(queryset.model, allowed[attribute], predicate, raw, key)
            )
        return queryset

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": f"filter[q][{attribute}_eq]",
                "required": False,
                "in": "query",
                "schema": {"type": "string"},
            }
            for attribute in sorted(getattr(view, "filter_fields", {}))
        ]


class SortFilter(BaseFilterBackend):
    """`sort=-created_at,status` on the view's `sort_fields`."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> Any:
        raw = request.query_params.get("sort")
        if raw is None:
            return queryset
        allowed: dict[str, str] = getattr(view, "sort_fields", {})
        order = []
        for item in raw.split(","):
            name = item.strip().removeprefix("-")
            if name not in allowed:
                raise ApiError(
                    f"sort by {name!r} is not allowed: sort by one of {', '.join(sorted(allowed))}",
                    code="SORT_NOT_ALLOWED",
                    status_code=400,
                    title="Invalid sort",
                )
            order.append(("-" if item.strip().startswith("-") else "") + allowed[name])
        return queryset.order_by(*order, "pk")

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {"name": "sort", "required": False, "in": "query", "schema": {"type": "string"}},
        ]
