"""The trigger table: every `_name` attribute a write may send, for every resource.

A trigger either runs (a `Trigger` with its action, declared by the resource's serializer in
`trigger_table` and registered here by `ResourceSerializer`) or is refused with 400
TRIGGER_NOT_SUPPORTED naming it and saying why (`REFUSED`, or the general reason for a trigger
this API has never heard of). Nothing is accepted and ignored: a serializer never sees an
attribute that is neither in its fields nor in this table (see ResourceSerializer). The tag
triggers `_add_tags` / `_remove_tags` are fields of every taggable serializer instead
(api/resources/tags.py): they combine with any other trigger and apply after it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from api.exceptions import ApiError

# What an action gets: the viewset handling the request, the resource, the value sent.
Action = Callable[[Any, Any, Any], Any]


@dataclass(frozen=True)
class Trigger:
    """An implemented trigger: `action(view, instance, value)` returns the resource as it now
    is. `kind` is the value it takes: a flag (`true`), an id, or a text."""

    action: Action
    kind: Literal["flag", "id", "text"] = "flag"


# Registered by each ResourceSerializer subclass: resource type → trigger name → Trigger.
IMPLEMENTED: dict[str, dict[str, Trigger]] = {}

PAYMENTS = (
    "payments are authorized when the order is placed and nothing else is done with a gateway "
    "here; use the payment provider's own tools"
)
INVOICES = "invoices are not kept by this service"
FULFILLMENT = "fulfillment is not handled by this service"
EDITING = "placed orders are not edited here: copy the order (order_copies) instead"

# Triggers Commerce Layer's SDK declares that this API refuses, with the reason it gives.
REFUSED: dict[str, dict[str, str]] = {
    "orders": {
        "_approve_and_capture": PAYMENTS,
        "_authorize": PAYMENTS,
        "_authorization_amount_cents": PAYMENTS,
        "_capture": PAYMENTS,
        "_refund": PAYMENTS,
        "_nullify_payment_source": PAYMENTS,
        "_fix_payment_source": PAYMENTS,
        "_commit_invoice": INVOICES,
        "_refund_invoice": INVOICES,
        "_fulfill": FULFILLMENT,
        "_update_taxes": "taxes follow the market's rate on every change of the order",
        "_start_editing": EDITING,
        "_stop_editing": EDITING,
        "_reset_circuit": "this service has no circuit breaker on orders",
        "_create_subscriptions": (
            "automatic subscriptions are not available yet (issue 16): create an "
            "order_subscription from the order instead"
        ),
    },
    "order_subscriptions": {
        "_convert": "automatic subscriptions are not available yet (issue 16)",
    },
    "line_items": {
        "_external_price": "prices come from the market's price list only",
        "_reserve_stock": "stock is taken when the order is placed",
        "_reset_restocked_quantity": "returns are not handled by this service",
        "_reset_circuit": "this service has no circuit breaker on line items",
    },
}


class TriggerNotSupported(ApiError):
    def __init__(self, *, resource_type: str, name: str) -> None:
        reason = REFUSED.get(resource_type, {}).get(name) or (
            f"{resource_type} take no trigger of that name"
        )
        super().__init__(
            f"{name} is not supported on {resource_type}: {reason}",
            code="TRIGGER_NOT_SUPPORTED",
            status_code=400,
            title="Trigger not supported",
            pointer=f"/data/attributes/{name}",
        )


def register(resource_type: str, table: dict[str, Trigger]) -> None:
    IMPLEMENTED.setdefault(resource_type, {}).update(table)


def implemented(resource_type: str) -> dict[str, Trigger]:
    return IMPLEMENTED.get(resource_type, {})


def triggers_run(*, view: Any, instance: Any, data: dict[str, Any]) -> Any:
    """Run the triggers `data` sends (a flag only when true), in the table's order."""
    for name, trigger in implemented(view.resource_name).items():
        value = data.get(name)
        if value is None or value is False or value == "":
            continue
        instance = trigger.action(view, instance, value)
    return instance
