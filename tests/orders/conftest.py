from collections.abc import Callable

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client


@pytest.fixture
def staff_client(db: None) -> Callable[..., Client]:
    """A client logged in as a staff user (not a superuser) holding only the given permissions
    of the orders app, by codename."""

    def make(*codenames: str) -> Client:
        user = User.objects.create_user(username="staff", password="staff", is_staff=True)
        permissions = Permission.objects.filter(
            content_type__app_label="orders", codename__in=codenames
        )
        assert permissions.count() == len(codenames), "unknown permission codename"
        user.user_permissions.set(permissions)
        client = Client()
        client.force_login(user)
        return client

    return make
