"""Attribute names of filters and sorts, resolved across relationships.

A resource's filterable attributes are its viewset's `filter_fields` (an entry's ORM path may
cross relationships: `source_order__number`), and those of its relationships' resources, named
`<relationship>_<attribute>`, at most MAX_DEPTH relationships deep (`source_order_market_code`).
Sorts name related attributes with dots (`market.name`), through to-one relationships.

Every relationship crossed is checked by the access policy (`api/policy.py`): the caller must
be allowed to follow it, and only the related rows it may read, in its mode, can match. A
relationship is crossed with a subquery (`market_id IN (SELECT id FROM markets WHERE …)`), so a
to-many path never repeats a row; it matches when one related row does (Ransack's join), and a
missing related row counts as a NULL attribute (its LEFT JOIN's).
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import F, OuterRef, Q, QuerySet, Subquery

from api import policy
from api.tokens import AccessToken
from tags.selectors import tagged_ids

MAX_DEPTH = 2  # relationships crossed by one filter or sort attribute
MAX_OR_ATTRIBUTES = 4  # attributes joined by `_or_` in one filter

Link = Callable[[QuerySet[Any]], Q]


@dataclass(frozen=True)
class Hop:
    """The relationship `name` of `source` (a resource type) to `target`."""

    source: str
    name: str
    target: str
    link: Link  # the source rows related to any of the given target rows
    foreign_key: str | None  # the source's column, for a to-one relationship


@dataclass(frozen=True)
class Attribute:
    hops: tuple[Hop, ...]
    field: Any  # the model field at the end of the hops
    path: str  # its name on that model


def viewset_of(resource_type: str) -> Any:
    from api.urls import RESOURCES  # the routes name every resource's viewset

    return RESOURCES.get(resource_type)


def model_of(resource_type: str) -> type[models.Model]:
    return viewset_of(resource_type).serializer_class.Meta.model  # type: ignore[no-any-return]


@cache
def relationships(resource_type: str) -> dict[str, Hop]:
    """The relationships of a resource that filters may cross (those backed by the ORM)."""
    viewset = viewset_of(resource_type)
    model = model_of(resource_type)
    hops = {}
    for rel in viewset.serializer_class.relationships():
        if viewset_of(rel.resource_type) is None:
            continue
        found = _link(model, rel.name, rel.resource_type)
        if found is not None:
            hops[rel.name] = Hop(resource_type, rel.name, rel.resource_type, *found)
    return hops


def _link(model: type[models.Model], name: str, target: str) -> tuple[Link, str | None] | None:
    if target == "tags":
        if not hasattr(model, "tag_links"):
            return None
        return (lambda rows: Q(pk__in=tagged_ids(model=model, tags=rows))), None
    try:
        field: Any = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    if field.related_model is not model_of(target):
        return None
    if field.concrete and (field.many_to_one or field.one_to_one):
        column = field.attname
        return (lambda rows: Q(**{f"{column}__in": rows.values("pk")})), column
    if field.one_to_many or field.one_to_one:
        remote = field.field.attname
        return (
            lambda rows: Q(pk__in=rows.filter(**{f"{remote}__isnull": False}).values(remote))
        ), None
    return None


@lru_cache(maxsize=4096)
def resolve(resource_type: str, name: str, depth: int = 0) -> Attribute | None:
    """The attribute `name` of a resource, directly or through relationships, or None."""
    path = viewset_of(resource_type).filter_fields.get(name)
    if path is not None:
        attribute = _attribute_at(resource_type, path.split("__"))
        return attribute if len(attribute.hops) + depth <= MAX_DEPTH else None
    if depth >= MAX_DEPTH:
        return None
    for rel_name, hop in sorted(relationships(resource_type).items(), key=lambda i: -len(i[0])):
        if name.startswith(f"{rel_name}_"):
            inner = resolve(hop.target, name[len(rel_name) + 1 :], depth + 1)
            if inner is not None:
                return Attribute((hop, *inner.hops), inner.field, inner.path)
    return None


def _attribute_at(resource_type: str, parts: list[str]) -> Attribute:
    hops = []
    for part in parts[:-1]:
        hop = relationships(resource_type)[part]
        hops.append(hop)
        resource_type = hop.target
    field = model_of(resource_type)._meta.get_field(parts[-1])
    if field.is_relation:
        raise FieldDoesNotExist(f"{resource_type}.{parts[-1]} is a relation, not an attribute")
    return Attribute(tuple(hops), field, parts[-1])


@lru_cache(maxsize=4096)
def resolve_any(resource_type: str, names: str) -> tuple[Attribute, ...] | None:
    """`a_or_b_or_c` → the attributes a, b and c (each may cross relationships), or None."""
    attribute = resolve(resource_type, names)
    if attribute is not None:
        return (attribute,)
    start = names.find("_or_")
    while start != -1:
        head = resolve(resource_type, names[:start])
        rest = resolve_any(resource_type, names[start + 4 :]) if head else None
        if head is not None and rest is not None and len(rest) < MAX_OR_ATTRIBUTES:
            return (head, *rest)
        start = names.find("_or_", start + 1)
    return None


def rows_of(resource_type: str, grant: AccessToken) -> QuerySet[Any]:
    """The rows of a resource the caller may read: its mode, then the access policy."""
    rows = model_of(resource_type)._default_manager.all()
    if any(field.name == "mode" for field in rows.model._meta.concrete_fields):
        rows = rows.filter(mode=grant.mode)
    return policy.visible(rows, resource_type=resource_type, grant=grant)


def check_hops(hops: tuple[Hop, ...], grant: AccessToken) -> None:
    for hop in hops:
        policy.check_relationship(hop.source, hop.name, grant=grant)


def across(hops: tuple[Hop, ...], condition: Q, *, grant: AccessToken, nullable: bool) -> Q:
    """`condition` (on the last model of `hops`) as a condition on the first one's rows."""
    if not hops:
        return condition
    hop, rest = hops[0], hops[1:]
    targets = rows_of(hop.target, grant).filter(
        across(rest, condition, grant=grant, nullable=nullable)
    )
    q = hop.link(targets)
    if nullable:  # no (readable) related row: a NULL attribute
        q |= ~hop.link(rows_of(hop.target, grant))
    return q


def sort_key(resource_type: str, name: str, *, grant: AccessToken) -> Any | None:
    """`created_at` or `market.name` (to-one relationships, at most MAX_DEPTH) as an ordering
    expression, or None when it cannot be sorted on."""
    *names, attribute = name.split(".")
    if len(names) > MAX_DEPTH:
        return None
    hops = []
    for rel_name in names:
        hop = relationships(resource_type).get(rel_name)
        if hop is None or hop.foreign_key is None:
            return None
        hops.append(hop)
        resource_type = hop.target
    path = viewset_of(resource_type).sort_fields.get(attribute)
    if path is None:
        return None
    check_hops(tuple(hops), grant)
    if not grant.is_sales_channel:
        # An integration reads every row of its mode, and a row relates only to rows of its
        # mode: a join orders the same, without a subquery per row.
        return F("__".join([*(hop.name for hop in hops), path]))
    return _related_value(tuple(hops), path, grant=grant)


def _related_value(hops: tuple[Hop, ...], path: str, *, grant: AccessToken) -> Any:
    if not hops:
        return F(path)
    hop = hops[0]
    assert hop.foreign_key is not None  # noqa: S101 (sort_key takes to-one hops only)
    value = _related_value(hops[1:], path, grant=grant)
    rows = rows_of(hop.target, grant).filter(pk=OuterRef(hop.foreign_key))
    return Subquery(rows.annotate(sort_value=value).values("sort_value")[:1])
