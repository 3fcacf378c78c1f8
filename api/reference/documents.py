"""Builders for the example documents of the reference, in the shape the API answers: links,
relationships with linkage (to-one) or links only (to-many), `meta.mode`."""

from typing import Any

BASE = "http://localhost:8000/api"


def resource(
    resource_type: str,
    pk: str,
    attributes: dict[str, Any],
    *,
    to_one: dict[str, tuple[str, str] | None] | None = None,
    to_many: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One resource object; `to_one` maps a relationship to (type, id) or None."""
    self_link = f"{BASE}/{resource_type}/{pk}"
    relationships: dict[str, Any] = {}
    for name, target in (to_one or {}).items():
        relationships[name] = {
            **_links(self_link, name),
            "data": None if target is None else {"type": target[0], "id": target[1]},
        }
    for name in to_many:
        relationships[name] = _links(self_link, name)
    return {
        "id": pk,
        "type": resource_type,
        "links": {"self": self_link},
        "attributes": attributes,
        "relationships": relationships,
        "meta": {"mode": "test"},
    }


def _links(self_link: str, name: str) -> dict[str, Any]:
    return {
        "links": {
            "self": f"{self_link}/relationships/{name}",
            "related": f"{self_link}/{name}",
        }
    }


def document(data: dict[str, Any], *, included: list[dict[str, Any]] | None = None) -> Any:
    return {"data": data} if included is None else {"data": data, "included": included}


def page(rows: list[dict[str, Any]], *, url: str, record_count: int) -> dict[str, Any]:
    """A list's first page (of 10 by default)."""
    page_count = max(1, -(-record_count // 10))
    links = {"first": url, "last": f"{url}&page%5Bnumber%5D={page_count}"}
    if page_count > 1:
        links["next"] = f"{url}&page%5Bnumber%5D=2"
    return {
        "data": rows,
        "meta": {"record_count": record_count, "page_count": page_count},
        "links": links,
    }


def write(resource_type: str, *, pk: str | None = None, **parts: Any) -> dict[str, Any]:
    """A request document: `attributes` and `relationships` as given."""
    data: dict[str, Any] = {"type": resource_type}
    if pk is not None:
        data["id"] = pk
    data.update(parts)
    return {"data": data}


def linkage(resource_type: str, pk: str) -> dict[str, Any]:
    return {"data": {"type": resource_type, "id": pk}}


def errors(*objects: dict[str, Any]) -> dict[str, Any]:
    return {"errors": list(objects)}


def error(
    code: str, status: int, title: str, detail: str, *, pointer: str | None = None
) -> dict[str, Any]:
    found: dict[str, Any] = {"title": title, "detail": detail, "code": code, "status": str(status)}
    if pointer is not None:
        found["source"] = {"pointer": pointer}
        found["meta"] = {"error": "invalid"}
    return found


TIMESTAMPS = {
    "created_at": "2026-11-30T09:15:02.114311Z",
    "updated_at": "2026-11-30T09:15:02.114311Z",
    "reference": "",
    "reference_origin": "",
    "metadata": {},
}
