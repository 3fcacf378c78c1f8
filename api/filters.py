"""Commerce Layer's Ransack-style filters, `filter[q][<attribute>_<predicate>]=value`, and
`sort=a,-b`, on the attributes and relationship paths a viewset lists. Anything else is a 400
FILTER_NOT_ALLOWED: a filter is never silently ignored."""

import json
import re
from datetime import UTC
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import connection, models
from django.db.models import F, Func, Q, QuerySet, Value
from django.db.models.lookups import Exact
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
# Every filter value is bounded, so that none costs more than milliseconds to answer.
MAX_VALUE_LENGTH = 1000
MAX_PATTERN_LENGTH = 255
MAX_LIST_ITEMS = 100
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
        if not isinstance(field, models.CharField | models.TextField):
            raise FilterNotAllowed(f"filter[q][{key}]: _matches needs a text attribute")
        return Q(**{f"{path}__{Matches.lookup_name}": like_pattern(raw)})
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


def like_pattern(raw: str) -> str:
    """Commerce Layer's `_matches` value as a LIKE pattern (escape character `\\`): `%` is any
    run of characters, `_` any one character, everything else literal, backslashes included.
    Runs of `%` are one `%`: the same matches, and no work for the database to repeat."""
    pattern = "".join("\\" + c if c == "\\" else c for c in raw)
    return re.sub("%{2,}", "%", pattern)


@models.CharField.register_lookup
@models.TextField.register_lookup
class Matches(models.Lookup):  # type: ignore[type-arg]
    """`<text> LIKE <pattern> ESCAPE '\\'`, case-insensitive (ILIKE on PostgreSQL; SQLite's
    LIKE ignores the case of ASCII letters). No regex: no backtracking to explode, and the
    pattern is short (MAX_PATTERN_LENGTH)."""

    lookup_name = "cl_matches"

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        operator = "ILIKE" if connection.vendor == "postgresql" else "LIKE"
        return f"{lhs} {operator} {rhs} ESCAPE '\\'", (*lhs_params, *rhs_params)


def _json_contains(path: str, raw: str, key: str, field: models.Field[Any, Any]) -> Q:
    """`metadata_jcont={"a": {"b": 1}}`: the JSON holds this object. PostgreSQL's `@>` there;
    elsewhere the same test as one equality a leaf (`metadata.a.b == 1`), which is `@>` for
    objects of scalars. Arrays and empty objects need `@>`: refused elsewhere, saying so."""
    if not isinstance(field, models.JSONField):
        raise FilterNotAllowed(f"filter[q][{key}]: _jcont needs a JSON attribute")
    try:
        value = json.loads(raw)
    except ValueError:
        raise FilterNotAllowed(f"filter[q][{key}] must be a JSON object, got {raw!r}") from None
    if not isinstance(value, dict):
        raise FilterNotAllowed(f"filter[q][{key}] must be a JSON object, got {raw!r}")
    if connection.vendor == "postgresql":
        return Q(**{f"{path}__contains": value})
    q = Q()  # {} holds in every object
    leaves = [leaf for name, item in value.items() for leaf in _leaves(item, (name,), key)]
    for keys, leaf in leaves:
        # SQLite's JSON_EXTRACT gives 1 for true: the JSON type is compared too, as `@>` does.
        json_type = JsonType(F(path), Value(connection.ops.compile_json_path(list(keys))))
        q &= Q(**{f"{path}__{'__'.join(keys)}__exact": leaf})
        q &= Q(Exact(json_type, _json_type_name(leaf)))
    return q


class JsonType(Func):
    function = "JSON_TYPE"
    output_field = models.CharField()


def _json_type_name(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int):
        return "integer"
    return "real" if isinstance(value, float) else "text"


def _leaves(value: Any, keys: tuple[str, ...], key: str) -> list[tuple[tuple[str, ...], Any]]:
    if isinstance(value, list) or value == {}:
        raise FilterNotAllowed(
            f"filter[q][{key}]: arrays and empty objects in _jcont need the PostgreSQL database; "
            "give the scalar values to match"
        )
    name = keys[-1]
    if not name or name.isdigit() or "__" in name or '"' in name or "\\" in name:
        raise FilterNotAllowed(
            f"filter[q][{key}]: the key {name!r} in _jcont needs PostgreSQL (empty, numeric, "
            "or with a double underscore, a quote or a backslash)"
        )
    if not isinstance(value, dict):
        return [(keys, value)]
    return [leaf for name, item in value.items() for leaf in _leaves(item, (*keys, name), key)]


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


def _check_length(key: str, predicate: str, raw: str) -> None:
    limit = MAX_PATTERN_LENGTH if predicate == "matches" else MAX_VALUE_LENGTH
    if len(raw) > limit:
        raise FilterNotAllowed(
            f"filter[q][{key}] is {len(raw)} characters long: at most {limit} for _{predicate}"
        )
    if predicate in LIST_PREDICATES and raw.count(",") >= MAX_LIST_ITEMS:
        raise FilterNotAllowed(f"filter[q][{key}] lists more than {MAX_LIST_ITEMS} values")


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
            _check_length(key, predicate, raw)
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
