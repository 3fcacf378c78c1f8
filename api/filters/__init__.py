"""Commerce Layer's Ransack-style filters, `filter[q][<attributes>_<predicate>]=value`, and
`sort=a,-b.c`: every predicate (`predicates.py`) on the attributes a viewset lists and on those
of its relationships (`paths.py`), `_or_` between attributes. Anything else is a 400
FILTER_NOT_ALLOWED (or SORT_NOT_ALLOWED): a filter is never silently ignored."""

import re
from typing import Any

from django.db.models import QuerySet
from rest_framework.filters import BaseFilterBackend
from rest_framework.request import Request

from api.exceptions import ApiError, FilterNotAllowed
from api.filters import paths
from api.filters.predicates import MULTI, PREDICATES, accepts_null, check_value, condition

FILTER_PARAM = re.compile(r"^filter\[q\]\[(?P<key>[a-z0-9_]{1,200})\]$")
MAX_FILTERS = 20
MAX_SORT_FIELDS = 5
# Each attribute of an `_or_`, times each value of an `_any`/`_all`, is a condition on every
# row (an `_in` list is one): their sum bounds what a request costs per row, whatever its size.
MAX_CONDITIONS = 200


def parse_key(resource_type: str, key: str) -> tuple[tuple[paths.Attribute, ...], str]:
    """`source_order_number_or_reference_not_eq` → (its attributes, "not_eq")."""
    for predicate in PREDICATES:
        suffix = f"_{predicate}"
        if key.endswith(suffix):
            attributes = paths.resolve_any(resource_type, key[: -len(suffix)])
            if attributes is not None:
                return attributes, predicate
    viewset = paths.viewset_of(resource_type)
    relationships = ", ".join(sorted(paths.relationships(resource_type)))
    raise FilterNotAllowed(
        f"filter[q][{key}] is not allowed: filter on one of "
        f"{', '.join(sorted(viewset.filter_fields))}, or on an attribute of a relationship "
        f"({relationships}) as <relationship>_<attribute>, with a predicate "
        f"({', '.join(sorted(PREDICATES))})"
    )


class QueryFilter(BaseFilterBackend):
    """Reads `filter[q][...]`: each one a condition, all of them ANDed."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> Any:
        params = [(p, str(v)) for p, v in request.query_params.items() if p.startswith("filter")]
        if len(params) > MAX_FILTERS:
            raise FilterNotAllowed(f"{len(params)} filters: at most {MAX_FILTERS} in one request")
        conditions = 0
        for param, raw in params:
            match = FILTER_PARAM.match(param)
            if match is None:
                raise FilterNotAllowed(f"{param} is not a filter: use filter[q][<attr>_<pred>]")
            key = match["key"]
            attributes, predicate = parse_key(view.resource_name, key)
            check_value(key, predicate, raw)
            conditions += len(attributes) * (raw.count(",") + 1 if predicate in MULTI else 1)
            if conditions > MAX_CONDITIONS:
                raise FilterNotAllowed(
                    f"the filters ask for more than {MAX_CONDITIONS} conditions (each attribute "
                    "of an _or_ times each value of an _any or _all): split the request"
                )
            nullable = accepts_null(predicate, raw, key)
            q = None
            for attribute in attributes:
                paths.check_hops(attribute.hops, view.grant)
                on_field = condition(attribute.path, attribute.field, predicate, raw, key)
                one = paths.across(attribute.hops, on_field, grant=view.grant, nullable=nullable)
                q = one if q is None else q | one
            queryset = queryset.filter(q)
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
    """`sort=-created_at,status,market.name` on the view's `sort_fields` and, with a dot, on
    those of its to-one relationships' resources. NULLs sort last ascending, first descending
    (PostgreSQL's default, on SQLite too)."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> Any:
        raw = request.query_params.get("sort")
        if raw is None:
            return queryset
        items = [item.strip() for item in raw.split(",")]
        if len(items) > MAX_SORT_FIELDS:
            raise _sort_refused(f"sort by {len(items)} fields: at most {MAX_SORT_FIELDS}")
        order = []
        for item in items:
            name = item.removeprefix("-")
            key = paths.sort_key(view.resource_name, name, grant=view.grant)
            if key is None:
                allowed = ", ".join(sorted(getattr(view, "sort_fields", {})))
                raise _sort_refused(
                    f"sort by {name[:80]!r} is not allowed: sort by one of {allowed}, or by "
                    "<relationship>.<attribute> of a to-one relationship"
                )
            descending = item.startswith("-")
            order.append(key.desc(nulls_first=True) if descending else key.asc(nulls_last=True))
        return queryset.order_by(*order, "pk")

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {"name": "sort", "required": False, "in": "query", "schema": {"type": "string"}},
        ]


def _sort_refused(detail: str) -> ApiError:
    return ApiError(detail, code="SORT_NOT_ALLOWED", status_code=400, title="Invalid sort")
