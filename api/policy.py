"""What each kind of API client may do: one table, applied once for every route.

An integration token (confidential) may do everything the API offers in its mode. A sales-channel
token is public (it ships inside shop front ends): it may do only what `SALES_CHANNEL` lists, on
the rows `SALES_CHANNEL_SCOPES` lets it reach. The viewsets apply both through `PolicyPermission`
(the verb), `check_request` (triggers, relationships sent, `include` at every segment),
`visible` (the rows, as `base_queryset` applies the mode) and `check_writable` (the rows it may
change); relationship linkage (`api/relations.py`), related and relationship endpoints and
includes read the same table. Nothing else decides what a token may do.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from api.exceptions import InvalidResource
from api.tokens import AccessToken
from events.models import Event
from orders.models import Order

LIST, READ, CREATE, UPDATE, DELETE = "list", "read", "create", "update", "delete"
# DRF's actions → the verbs of the table. Related and relationship endpoints read.
VERBS = {
    "list": LIST,
    "retrieve": READ,
    "related": READ,
    "relationship": READ,
    "create": CREATE,
    "update": UPDATE,
    "partial_update": UPDATE,
    "destroy": DELETE,
}
# Includes are bounded: `a.b.c` at most, and at most this many paths in one request.
MAX_INCLUDE_DEPTH = 3
MAX_INCLUDE_PATHS = 10


@dataclass(frozen=True)
class Access:
    """What a kind of client may do on one resource: verbs, triggers, and the relationships it
    may follow (include, related and relationship endpoints, linkage sent in a write)."""

    verbs: frozenset[str] = frozenset()
    triggers: frozenset[str] = frozenset()
    relationships: frozenset[str] = frozenset()
    everything: bool = False

    def may(self, verb: str | None) -> bool:
        return self.everything or verb in self.verbs

    def may_trigger(self, trigger: str) -> bool:
        return self.everything or trigger in self.triggers

    def may_follow(self, relationship: str) -> bool:
        return self.everything or relationship in self.relationships


def access(verbs: str, *, triggers: str = "", relationships: str = "") -> Access:
    return Access(
        verbs=frozenset(verbs.split()),
        triggers=frozenset(triggers.split()),
        relationships=frozenset(relationships.split()),
    )


EVERYTHING = Access(everything=True)
NOTHING = Access()

# What a sales channel may do; a resource missing here is refused to it entirely (customers,
# customer_payment_sources, coupons, order_copies, order_subscriptions, events, webhooks,
# event_callbacks).
SALES_CHANNEL: dict[str, Access] = {
    "orders": access(
        "read create update",
        triggers="_place",
        relationships="market customer shipping_address billing_address payment_method "
        "payment_source line_items",
    ),
    "line_items": access("read create update delete", relationships="order sku"),
    "addresses": access("read create"),
    "payment_sources": access("read create"),
    "stripe_payments": access("read create", relationships="order"),
    "markets": access("list read"),
    "skus": access("list read"),
    "payment_methods": access("list read", relationships="market"),
    "promotions": access("list read", relationships="market"),
}
POLICY: dict[str, dict[str, Access]] = {"integration": {}, "sales_channel": SALES_CHANNEL}
DEFAULT_ACCESS = {"integration": EVERYTHING, "sales_channel": NOTHING}


def _orders_in_markets(grant: AccessToken) -> QuerySet[Order]:
    return Order.objects.filter(mode=grant.mode, market__code__in=grant.markets)


def _addresses(grant: AccessToken) -> Q:
    orders = _orders_in_markets(grant)
    created = Event.objects.filter(
        name="addresses.create", resource_type="addresses", actor_id=grant.client_pk
    )
    return (
        Q(pk__in=orders.values("shipping_address_id"))
        | Q(pk__in=orders.values("billing_address_id"))
        | Q(pk__in=created.values("resource_id"))
    )


def _payment_sources(grant: AccessToken) -> Q:
    orders = _orders_in_markets(grant)
    return Q(created_by_client=grant.client_pk) | Q(pk__in=orders.values("payment_source_id"))


# The rows a sales channel reaches (by id, in lists, through linkage and related endpoints):
# those of its markets, and the addresses and payment sources of its markets' orders or its own.
SALES_CHANNEL_SCOPES: dict[str, Callable[[AccessToken], Q]] = {
    "orders": lambda grant: Q(market__code__in=grant.markets),
    "line_items": lambda grant: Q(order__market__code__in=grant.markets),
    "markets": lambda grant: Q(code__in=grant.markets),
    "payment_methods": lambda grant: Q(market__code__in=grant.markets),
    "promotions": lambda grant: Q(market__code__in=grant.markets),
    "skus": lambda grant: Q(),
    "customers": lambda grant: Q(pk__in=_orders_in_markets(grant).values("customer_id")),
    "addresses": _addresses,
    "payment_sources": _payment_sources,
    "stripe_payments": _payment_sources,
}
# A sales channel builds orders: it changes only draft and pending ones (and their lines).
EDITABLE_STATUSES = (Order.Status.DRAFT, Order.Status.PENDING)


def access_of(grant: AccessToken, resource_type: str) -> Access:
    return POLICY[grant.kind].get(resource_type, DEFAULT_ACCESS[grant.kind])


def visible(queryset: QuerySet[Any], *, resource_type: str, grant: AccessToken) -> QuerySet[Any]:
    """The rows of `queryset` the caller may reach (the mode is the viewsets' business)."""
    if not grant.is_sales_channel:
        return queryset
    scope = SALES_CHANNEL_SCOPES.get(resource_type)
    return queryset.none() if scope is None else queryset.filter(scope(grant))


def check_writable(instance: Any, *, resource_type: str, grant: AccessToken) -> None:
    """A sales channel changes only the orders it can build: placed ones are read-only to it."""
    if not grant.is_sales_channel:
        return
    order = instance if resource_type == "orders" else getattr(instance, "order", None)
    if isinstance(order, Order) and order.status not in EDITABLE_STATUSES:
        raise PermissionDenied(
            f"a sales channel may change only draft and pending orders; order {order.pk} is "
            f"{order.status}"
        )


def check_relationship(resource_type: str, name: str, *, grant: AccessToken) -> None:
    if not access_of(grant, resource_type).may_follow(name):
        raise PermissionDenied(f"a {grant.kind} may not read {name} of {resource_type}")


def check_request(
    request: Request, serializer_class: Any, *, include_root: Any, grant: AccessToken
) -> None:
    """Before anything is read or written: the triggers and relationships a write sends and
    every segment of every include path."""
    resource_type = serializer_class.resource_type()
    rules = access_of(grant, resource_type)
    if request.method in ("POST", "PATCH") and isinstance(request.data, dict):
        for trigger in (*serializer_class.triggers, *serializer_class.tag_triggers):
            if request.data.get(trigger) and not rules.may_trigger(trigger):
                raise PermissionDenied(f"a {grant.kind} may not send {trigger}")
        for name in sorted(serializer_class.relationship_names() & set(request.data)):
            check_relationship(resource_type, name, grant=grant)
    check_includes(include_root, request.query_params.get("include"), grant=grant)


def include_paths(raw: str | None) -> list[list[str]]:
    """`a,b.c` → [["a"], ["b", "c"]], refused beyond the limits (before anything is checked)."""
    paths = [path.strip() for path in (raw or "").split(",") if path.strip()]
    if len(paths) > MAX_INCLUDE_PATHS:
        raise InvalidResource(
            f"include asks for {len(paths)} paths: at most {MAX_INCLUDE_PATHS} in one request"
        )
    split = []
    for path in paths:
        names = path.split(".")
        if len(names) > MAX_INCLUDE_DEPTH:
            raise InvalidResource(
                f"include={path[:80]} is {len(names)} levels deep: at most {MAX_INCLUDE_DEPTH}"
            )
        if not all(names):
            raise InvalidResource(f"include={path}: empty relationship name")
        split.append(names)
    return split


def check_includes(root: Any, raw: str | None, *, grant: AccessToken) -> None:
    for names in include_paths(raw):
        serializer_class = root
        for name in names:
            if name not in serializer_class.included_serializers:
                raise InvalidResource(f"include={'.'.join(names)}: {name} cannot be included here")
            check_relationship(serializer_class.resource_type(), name, grant=grant)
            serializer_class = serializer_class.included_serializers[name]


class PolicyPermission(BasePermission):
    """The verb of the request (list, read, create, update, delete) against the table."""

    message = "You are not authorized to perform this action on the requested resource."

    def has_permission(self, request: Request, view: Any) -> bool:
        grant = request.auth
        if not isinstance(grant, AccessToken):
            return False
        verb = VERBS.get(getattr(view, "action", None) or "")
        return access_of(grant, view.resource_name).may(verb)
