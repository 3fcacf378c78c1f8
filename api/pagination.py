import math
from typing import Any

from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from api.exceptions import ApiError

DEFAULT_SIZE = 10
MAX_SIZE = 25


class PageNumberPagination(BasePagination):
    """`page[number]` (from 1) and `page[size]` (10 by default, at most 25), with the meta and
    links Commerce Layer's SDK reads: `meta.record_count`, `meta.page_count`."""

    number_param = "page[number]"
    size_param = "page[size]"

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        self.request = request
        self.size = _positive(request, self.size_param, DEFAULT_SIZE, maximum=MAX_SIZE)
        self.number = _positive(request, self.number_param, 1)
        self.count = queryset.count()
        self.page_count = max(1, math.ceil(self.count / self.size))
        start = (self.number - 1) * self.size
        return list(queryset[start : start + self.size])

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "results": data,
                "meta": {"record_count": self.count, "page_count": self.page_count},
                "links": self._links(),
            }
        )

    def _links(self) -> dict[str, str]:
        url = self.request.build_absolute_uri()
        links = {
            "first": self._link(url, 1),
            "last": self._link(url, self.page_count),
        }
        if self.number > 1:
            links["prev"] = self._link(url, min(self.number - 1, self.page_count))
        if self.number < self.page_count:
            links["next"] = self._link(url, self.number + 1)
        return links

    def _link(self, url: str, number: int) -> str:
        if number == 1:
            return remove_query_param(url, self.number_param)
        return replace_query_param(url, self.number_param, number)

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "format": "uri"}
        return {
            "type": "object",
            "required": ["data", "meta", "links"],
            "properties": {
                "data": schema,
                "included": {"type": "array", "items": {"type": "object"}},
                "meta": {
                    "type": "object",
                    "required": ["record_count", "page_count"],
                    "properties": {
                        "record_count": {"type": "integer", "minimum": 0},
                        "page_count": {"type": "integer", "minimum": 1},
                    },
                },
                "links": {
                    "type": "object",
                    "properties": {name: link for name in ("first", "prev", "next", "last")},
                },
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.number_param,
                "required": False,
                "in": "query",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": self.size_param,
                "required": False,
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_SIZE},
            },
        ]


class InvalidPageError(ApiError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail, code="INVALID_PAGE", status_code=400, title="Invalid page")


def _positive(request: Request, name: str, default: int, *, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidPageError(f"{name} must be a positive integer, got {raw!r}") from None
    if value < 1:
        raise InvalidPageError(f"{name} must be a positive integer, got {raw!r}")
    if value > 10**9:
        raise InvalidPageError(f"{name} is too large, got {raw!r}")
    if maximum is not None and value > maximum:
        raise InvalidPageError(f"{name} must be at most {maximum}, got {value}")
    return value
