"""Commerce Layer's filter predicates (Ransack's), each a condition on one model field.

A predicate is evaluated on the row that holds the attribute, with SQL's rules for NULL: `_eq`,
`_not_eq`, `_lt`, `_matches`, `_not_cont`… never match a NULL attribute; the `_or_null` forms,
`_null`, `_blank` (and `_not_null`/`_present` given false) do. `accepts_null` says which, so that a
relationship path can count a missing related row as a NULL attribute (as a LEFT JOIN does).

The scalar predicates also come as `_any` (OR over comma-separated values) and `_all` (AND).
"""

import json
import math
import re
from datetime import UTC
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models import F, Func, Q, Value
from django.db.models.lookups import Exact
from django.utils import timezone

from api.exceptions import FilterNotAllowed

TRUE_VALUES = {"true", "1", "t", "yes"}
FALSE_VALUES = {"false", "0", "f", "no"}
# Every filter value is bounded, so that none costs more than milliseconds to answer.
MAX_VALUE_LENGTH = 1000
MAX_PATTERN_LENGTH = 255
MAX_LIST_ITEMS = 100

Field = models.Field  # type: ignore[type-arg]
TEXT_FIELDS = (models.CharField, models.TextField)


def _is_text(field: Any) -> bool:
    return isinstance(field, TEXT_FIELDS)


# Scalar predicates: (lookup, negated, value kind). "like" values are raw text (LIKE patterns
# or substrings) and need a text attribute; "typed" values are parsed as the attribute's type.
SCALAR: dict[str, tuple[str, bool, str]] = {
    "eq": ("exact", False, "typed"),
    "not_eq": ("exact", True, "typed"),
    "lt": ("lt", False, "typed"),
    "lteq": ("lte", False, "typed"),
    "gt": ("gt", False, "typed"),
    "gteq": ("gte", False, "typed"),
    "matches": ("cl_matches", False, "like"),
    "does_not_match": ("cl_matches", True, "like"),
    "cont": ("icontains", False, "like"),
    "not_cont": ("icontains", True, "like"),
    "start": ("istartswith", False, "like"),
    "not_start": ("istartswith", True, "like"),
    "end": ("iendswith", False, "like"),
    "not_end": ("iendswith", True, "like"),
}
LIST = {"in", "not_in", "in_or_null", "not_in_or_null"}
OR_NULL = {"eq_or_null", "not_eq_or_null"}
FLAGS = {"null", "not_null", "present", "blank", "true", "false"}
MULTI = {f"{name}_{suffix}" for name in SCALAR for suffix in ("any", "all")}
# Longest first, so that `not_eq_or_null` wins over `null` and `not_eq` over `eq`.
PREDICATES = sorted([*SCALAR, *MULTI, *LIST, *OR_NULL, *FLAGS, "jcont"], key=lambda p: (-len(p), p))
# Predicates whose value is a comma-separated list.
LISTED = LIST | MULTI


def accepts_null(predicate: str, raw: str, key: str) -> bool:
    """Whether a NULL attribute (or a missing related row) satisfies the predicate."""
    if predicate.endswith("_or_null"):
        return True
    if predicate in ("null", "blank"):
        return boolean(raw, key)
    if predicate in ("not_null", "present"):
        return not boolean(raw, key)
    return False


def check_value(key: str, predicate: str, raw: str) -> None:
    if "\x00" in raw:
        raise FilterNotAllowed(f"filter[q][{key}] must not contain NUL characters")
    if len(raw) > MAX_VALUE_LENGTH:
        raise FilterNotAllowed(
            f"filter[q][{key}] is {len(raw)} characters long: at most {MAX_VALUE_LENGTH}"
        )
    items = raw.split(",") if predicate in LISTED else [raw]
    if len(items) > MAX_LIST_ITEMS:
        raise FilterNotAllowed(f"filter[q][{key}] lists more than {MAX_LIST_ITEMS} values")
    if predicate.startswith(("matches", "does_not_match")):
        for item in items:
            if len(item) > MAX_PATTERN_LENGTH:
                raise FilterNotAllowed(
                    f"filter[q][{key}] has a pattern of {len(item)} characters: at most "
                    f"{MAX_PATTERN_LENGTH} for _{predicate}"
                )


def condition(path: str, field: Any, predicate: str, raw: str, key: str) -> Q:
    """`predicate` with value `raw` on the field at `path` (of the model being filtered)."""
    if predicate in FLAGS:
        return _flag(path, predicate, boolean(raw, key), field, key)
    if predicate == "jcont":
        return _json_contains(path, raw, key, field)
    if predicate in LIST:
        values = [typed_value(field, item, key) for item in raw.split(",")]
        q = Q(**{f"{path}__in": values})
        q = _negated(q, path) if predicate.startswith("not_") else q
        return q | Q(**{f"{path}__isnull": True}) if predicate.endswith("_or_null") else q
    if predicate in OR_NULL:
        q = _scalar(path, field, predicate.removesuffix("_or_null"), raw, key)
        return q | Q(**{f"{path}__isnull": True})
    if predicate in MULTI:
        base, _, combine = predicate.rpartition("_")
        parts = [_scalar(path, field, base, item, key) for item in raw.split(",")]
        q = parts[0]
        for part in parts[1:]:
            q = q | part if combine == "any" else q & part
        return q
    return _scalar(path, field, predicate, raw, key)


def _scalar(path: str, field: Any, predicate: str, raw: str, key: str) -> Q:
    lookup, negated, kind = SCALAR[predicate]
    if kind == "like":
        if not _is_text(field):
            raise FilterNotAllowed(f"filter[q][{key}]: _{predicate} needs a text attribute")
        value: Any = like_pattern(raw) if lookup == Matches.lookup_name else raw
    else:
        value = typed_value(field, raw, key)
    q = Q(**{f"{path}__{lookup}": value})
    return _negated(q, path) if negated else q


def _negated(q: Q, path: str) -> Q:
    # Django's negation lets NULL through (`NOT (x = 1)` or `x IS NULL`); SQL's, and Commerce
    # Layer's, does not.
    return ~q & Q(**{f"{path}__isnull": False})


def _flag(path: str, predicate: str, flag: bool, field: Any, key: str) -> Q:
    if predicate in ("true", "false"):
        if not isinstance(field, models.BooleanField):
            raise FilterNotAllowed(f"filter[q][{key}]: _{predicate} needs a boolean attribute")
        wanted = flag if predicate == "true" else not flag
        return Q(**{path: wanted})
    empty = Q(**{f"{path}__isnull": True})
    if _is_text(field):
        empty |= Q(**{path: ""})
    q = {
        "null": Q(**{f"{path}__isnull": True}),
        "not_null": Q(**{f"{path}__isnull": False}),
        "blank": empty,
        "present": ~empty,
    }[predicate]
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


def _json_contains(path: str, raw: str, key: str, field: Any) -> Q:
    """`metadata_jcont={"a": {"b": 1}}`: the JSON holds this object. PostgreSQL's `@>` there;
    elsewhere the same test as one equality a leaf (`metadata.a.b == 1`), which is `@>` for
    objects of scalars. Arrays and empty objects need `@>`: refused elsewhere, saying so."""
    if not isinstance(field, models.JSONField):
        raise FilterNotAllowed(f"filter[q][{key}]: _jcont needs a JSON attribute")
    value = _json_object(raw, key)
    if connection.vendor == "postgresql":
        return Q(**{f"{path}__contains": value})
    q = Q()  # {} holds in every object
    leaves = [leaf for name, item in value.items() for leaf in _leaves(item, (name,), key)]
    for keys, leaf in leaves:
        # Expressions, not a `metadata__a__b` lookup string: a key may be named like a lookup.
        at = (F(path), Value(connection.ops.compile_json_path(list(keys))))
        # SQLite's JSON_EXTRACT gives 1 for true: the JSON type is compared too, as `@>` does.
        q &= Q(Exact(JsonType(*at), _json_type_name(leaf)))
        if leaf is not None and not isinstance(leaf, bool):  # the type says it all for those
            q &= Q(Exact(JsonExtract(*at, output_field=_leaf_field(leaf)), leaf))
    return q


def _json_object(raw: str, key: str) -> dict[str, Any]:
    """The `_jcont` value: a JSON object the database can hold (JSON has no NaN or infinity,
    and PostgreSQL's no NUL character)."""
    refused = FilterNotAllowed(
        f"filter[q][{key}] must be a JSON object (finite numbers, no NUL characters), got "
        f"{raw[:80]!r}"
    )
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except ValueError:
        raise refused from None
    if not isinstance(value, dict) or not _storable(value):
        raise refused
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _storable(value: Any) -> bool:
    if isinstance(value, dict):
        return all("\x00" not in k and _storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(item) for item in value)
    if isinstance(value, str):
        return "\x00" not in value
    return not isinstance(value, float) or math.isfinite(value)


class JsonType(Func):
    function = "JSON_TYPE"
    output_field = models.CharField()


class JsonExtract(Func):
    function = "JSON_EXTRACT"


def _leaf_field(value: Any) -> Field:
    if isinstance(value, int):
        return models.BigIntegerField()
    return models.FloatField() if isinstance(value, float) else models.CharField()


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
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise FilterNotAllowed(
            f"filter[q][{key}]: the number {value} in _jcont needs PostgreSQL (beyond 64 bits)"
        )
    if not isinstance(value, dict):
        return [(keys, value)]
    return [leaf for name, item in value.items() for leaf in _leaves(item, (*keys, name), key)]


def boolean(raw: str, key: str) -> bool:
    if raw.lower() in TRUE_VALUES:
        return True
    if raw.lower() in FALSE_VALUES:
        return False
    raise FilterNotAllowed(f"filter[q][{key}] must be true or false, got {raw!r}")


def typed_value(field: Any, raw: str, key: str) -> Any:
    if isinstance(field, models.BooleanField):
        return boolean(raw, key)
    if isinstance(field, models.JSONField):
        raise FilterNotAllowed(f"filter[q][{key}]: a JSON attribute is filtered with _jcont")
    try:
        value = field.to_python(raw)
        if isinstance(field, models.DateTimeField | models.DateField) and value is None:
            raise ValidationError("empty")
        if isinstance(field, models.DateTimeField) and timezone.is_naive(value):
            value = value.replace(tzinfo=UTC)  # times without an offset are UTC, as ours
        if isinstance(field, models.IntegerField) and not -(2**63) <= value < 2**63:
            raise ValidationError("out of range")
        return value
    except (ValidationError, OverflowError, ValueError):
        raise FilterNotAllowed(
            f"filter[q][{key}]: {raw!r} is not a valid {field.get_internal_type()} value"
        ) from None
