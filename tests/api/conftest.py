import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from api.services import api_client_create
from api.tokens import token_issue

MEDIA = "application/vnd.api+json"


class ApiCaller:
    """The Django test client speaking JSON:API with a bearer token."""

    def __init__(self, client: Client, token: str | None) -> None:
        self.client, self.token = client, token

    def _headers(self) -> dict[str, str]:
        headers = {"HTTP_ACCEPT": MEDIA}
        if self.token:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"
        return headers

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.client.get(path, params or {}, content_type=MEDIA, **self._headers())

    def post(self, path: str, document: Any) -> Any:
        body = document if isinstance(document, str | bytes) else json.dumps(document)
        return self.client.post(path, body, content_type=MEDIA, **self._headers())

    def patch(self, path: str, document: Any) -> Any:
        body = document if isinstance(document, str | bytes) else json.dumps(document)
        return self.client.patch(path, body, content_type=MEDIA, **self._headers())

    def delete(self, path: str) -> Any:
        return self.client.delete(path, content_type=MEDIA, **self._headers())


def _token(kind: str, mode: str, markets: tuple[str, ...] = ()) -> str:
    client, _ = api_client_create(
        name=f"{kind} {mode}", kind=kind, mode=mode, market_codes=list(markets)
    )
    return str(token_issue(client=client, markets=markets)["access_token"])


@pytest.fixture
def make_api(client: Client) -> Callable[..., ApiCaller]:
    def make(
        kind: str = "integration", mode: str = "test", markets: tuple[str, ...] = ()
    ) -> ApiCaller:
        return ApiCaller(client, _token(kind, mode, markets))

    return make


@pytest.fixture
def api(db: None, make_api: Callable[..., ApiCaller]) -> ApiCaller:
    return make_api()


@pytest.fixture
def anonymous(client: Client) -> ApiCaller:
    return ApiCaller(client, None)
