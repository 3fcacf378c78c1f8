"""API clients in the admin: revoking asks first and needs its own permission; market codes are
boxes to tick (never JSON); a market taken away ends the token at once."""

from typing import Any

import pytest
from django.contrib.auth.models import Permission

from api.models import ApiClient
from tests.api.conftest import assert_error


@pytest.fixture
def shop(make_api, market):
    """A sales-channel token for market eu (test mode)."""
    return make_api(kind="sales_channel", markets=("eu",))


@pytest.fixture
def staff_with(client, django_user_model):
    def make(*codenames: str):
        user = django_user_model.objects.create_user(
            f"staff{django_user_model.objects.count()}", password="x", is_staff=True
        )
        user.user_permissions.set(
            Permission.objects.filter(content_type__app_label="api", codename__in=codenames)
        )
        client.force_login(user)
        return client

    return make


def revoke_in_admin(browser: Any, *clients: ApiClient, confirmed: bool = True) -> Any:
    data: dict[str, Any] = {"action": "revoke", "_selected_action": [c.pk for c in clients]}
    if confirmed:
        data["post"] = "yes"
    return browser.post("/admin/api/apiclient/", data, follow=True)


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.mark.parametrize(
    ("codenames", "revokes"),
    [
        (["view_apiclient"], False),
        (["view_apiclient", "change_apiclient"], False),
        (["view_apiclient", "change_apiclient", "delete_apiclient"], False),
        (["view_apiclient", "revoke_apiclient"], True),
    ],
)
def test_revoking_clients_needs_the_revoke_permission(api, staff_with, codenames, revokes):
    browser = staff_with(*codenames)
    form = browser.get("/admin/api/apiclient/").context["action_form"]
    offered = dict(form.fields["action"].choices) if form is not None else {}
    assert ("revoke" in offered) is revokes
    response = revoke_in_admin(browser, api.api_client)
    assert response.status_code == 200
    api.api_client.refresh_from_db()
    assert (api.api_client.revoked_at is not None) is revokes
    status = api.get("/api/order_copies").status_code
    assert status == (401 if revokes else 200)


def test_revoking_asks_first_and_changes_nothing_until_confirmed(api, admin_client):
    page = revoke_in_admin(admin_client, api.api_client, confirmed=False)
    text = page.content.decode()
    assert "Revoke 1 API client?" in text
    assert "Their access tokens stop working at once" in text
    assert 'name="post" value="yes"' in text and "No, take me back" in text
    api.api_client.refresh_from_db()
    assert api.api_client.revoked_at is None
    assert api.get("/api/order_copies").status_code == 200


def test_a_superuser_revokes_clients_and_each_refusal_is_reported(api, admin_client, make_api):
    other = make_api()
    first = revoke_in_admin(admin_client, api.api_client)
    assert messages_of(first) == ["Revoked 1 API client."]
    again = revoke_in_admin(admin_client, api.api_client, other.api_client)
    assert messages_of(again) == [
        "Revoked 1 API client; 1 refused.",
        f"{api.api_client} was not revoked: it was revoked already",
    ]
    assert ApiClient.objects.filter(revoked_at__isnull=True).count() == 0


def test_market_codes_are_boxes_to_tick_not_json(shop, admin_client, other_market):
    page = admin_client.get(f"/admin/api/apiclient/{shop.api_client.pk}/change/").content.decode()
    assert 'type="checkbox" name="market_codes" value="eu"' in page
    assert 'value="us"' in page and "us (USA)" in page
    assert "[&quot;eu&quot;]" not in page and '["eu"]' not in page
    listed = admin_client.get("/admin/api/apiclient/").content.decode()
    assert '<td class="field-markets">eu</td>' in listed


def test_a_market_removed_in_the_admin_ends_the_token_at_once(
    shop, admin_client, make_order, other_market
):
    order = make_order()
    assert shop.get(f"/api/orders/{order.pk}").status_code == 200
    response = admin_client.post(
        f"/admin/api/apiclient/{shop.api_client.pk}/change/",
        {"name": "Shop", "kind": "sales_channel", "mode": "test", "market_codes": ["us"]},
    )
    assert response.status_code == 302, response.content
    assert ApiClient.objects.get(pk=shop.api_client.pk).market_codes == ["us"]
    assert_error(shop.get(f"/api/orders/{order.pk}"), 401, "INVALID_TOKEN")
