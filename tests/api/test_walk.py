"""Every relationship link of one record of every resource, followed with an integration and a
sales-channel token: no link answers a 5xx, an integration reads every one, and a sales
channel reads exactly the links the access policy lets it follow."""

import pytest

from api import policy
from api.urls import RESOURCES
from tests.api.conftest import ApiCaller

LINKS = [
    (resource_type, rel.name, kind)
    for resource_type, viewset in RESOURCES.items()
    for rel in viewset.serializer_class.relationships()
    for kind in ("", "relationships/")
]

pytestmark = pytest.mark.usefixtures("unthrottled")


@pytest.fixture
def callers(no_raise, make_api):
    return {
        "integration": make_api(),
        "sales_channel": make_api(kind="sales_channel", markets=("eu",)),
    }


def sales_channel_may(resource_type: str, name: str) -> bool:
    rules = policy.SALES_CHANNEL.get(resource_type, policy.NOTHING)
    return rules.may(policy.READ) and rules.may_follow(name)


@pytest.mark.parametrize("resource_type", sorted(RESOURCES))
def test_every_record_is_read_by_id_without_a_server_error(world, callers, resource_type):
    record = world[resource_type]
    for kind, caller in callers.items():
        response = caller.get(f"/api/{resource_type}/{record.pk}")
        assert response.status_code < 500, (kind, response.content)
        if kind == "integration" or policy.SALES_CHANNEL.get(resource_type, policy.NOTHING).may(
            policy.READ
        ):
            assert response.status_code == 200, (kind, resource_type, response.content)
        else:
            assert response.status_code == 401, (kind, resource_type, response.content)


def test_the_walk_covers_every_relationship_of_every_resource():
    relationships = sum(len(v.serializer_class.relationships()) for v in RESOURCES.values())
    assert len(LINKS) == 2 * relationships
    assert {"payment_methods", "promotions", "coupons"} <= {link[0] for link in LINKS}


@pytest.mark.parametrize(("resource_type", "name", "kind"), LINKS)
def test_every_relationship_link_answers_without_a_server_error(
    world, callers, resource_type, name, kind
):
    path = f"/api/{resource_type}/{world[resource_type].pk}/{kind}{name}"
    integration: ApiCaller = callers["integration"]
    response = integration.get(path)
    assert response.status_code == 200, (path, response.content)
    body = response.json()
    assert "data" in body
    shop: ApiCaller = callers["sales_channel"]
    response = shop.get(path)
    assert response.status_code < 500, (path, response.content)
    expected = 200 if sales_channel_may(resource_type, name) else 401
    assert response.status_code == expected, (path, response.content)
