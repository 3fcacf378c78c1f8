"""The API reference: every word /api/openapi.json and /api/docs/ tell integrators, in one place.

One module per resource (`order_copies.py`, `orders.py`, ...) holds a `REFERENCE`: the tag's
text, each operation's summary, description, examples and particular errors (keyed
"METHOD /api/path", as the schema names them), its triggers and attributes. `overview.py` holds
the conventions every operation shares (tokens, errors, pagination, includes, filters, rate
limits), with the figures read from the code. `api/schema.py`'s postprocessing hook writes them
into the generated schema; docstrings written for maintainers never reach it.

A new operation or trigger without an entry here fails tests/api/test_schema.py, naming it. A
new resource is a new module here with a `REFERENCE` (found by `references()`).
"""

import importlib
import pkgutil
from dataclasses import dataclass, field
from functools import cache
from typing import Any


@dataclass(frozen=True)
class Example:
    summary: str
    value: Any
    description: str = ""


@dataclass(frozen=True)
class Refusal:
    """An error an operation answers besides those of its kind (overview.VERB_ERRORS)."""

    status: int
    code: str
    when: str


@dataclass(frozen=True)
class Operation:
    summary: str
    description: str
    requests: dict[str, Example] = field(default_factory=dict)
    responses: dict[str, Example] = field(default_factory=dict)
    refusals: tuple[Refusal, ...] = ()


@dataclass(frozen=True)
class Trigger:
    """A trigger attribute (`_place`): what sending it `true` does, and when it is refused."""

    effect: str
    refused_when: str


@dataclass(frozen=True)
class Resource:
    type: str
    description: str
    operations: dict[str, Operation]
    triggers: dict[str, Trigger] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)


@cache
def references() -> dict[str, Resource]:
    """Every module of this package that has a REFERENCE, by resource type."""
    found = {}
    for module in pkgutil.iter_modules(__path__):
        loaded = importlib.import_module(f"{__name__}.{module.name}")
        reference = getattr(loaded, "REFERENCE", None)
        if isinstance(reference, Resource):
            found[reference.type] = reference
    return found


def operation_for(key: str) -> Operation | None:
    """The entry of "GET /api/order_copies" (any resource's), or None."""
    for reference in references().values():
        if key in reference.operations:
            return reference.operations[key]
    return None


def read_operations(resource_type: str, *, one: str, many: str, about: str) -> dict[str, Operation]:
    """List and read of a resource whose two operations say the same thing."""
    return {
        f"GET /api/{resource_type}": Operation(
            summary=f"List {many}", description=f"The {many} of the token's mode. {about}"
        ),
        f"GET /api/{resource_type}/{{id}}": Operation(
            summary=f"Read {one}", description=f"One of the {many}, by id. {about}"
        ),
    }
