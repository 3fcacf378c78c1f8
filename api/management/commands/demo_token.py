from typing import Any

from django.core.management.base import BaseCommand

from api.models import ApiClient
from api.tokens import token_issue

DEMO_CLIENTS = [
    ("Demo integration (test)", ApiClient.Kind.INTEGRATION, "test", []),
    ("Demo integration (live)", ApiClient.Kind.INTEGRATION, "live", []),
    ("Demo sales channel (test)", ApiClient.Kind.SALES_CHANNEL, "test", ["eu", "us"]),
]


class Command(BaseCommand):
    help = (
        "Ensure the demo API clients exist (test and live integrations, a test sales channel) "
        "and print a ready access token of the test integration. Idempotent."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        clients = {}
        for name, kind, mode, markets in DEMO_CLIENTS:
            client = ApiClient.objects.filter(name=name, revoked_at__isnull=True).first()
            if client is None:
                client = ApiClient(name=name, kind=kind, mode=mode, market_codes=markets)
                client.set_new_credentials()
                client.save()
            clients[name] = client
        token = token_issue(client=clients["Demo integration (test)"])
        self.stdout.write(str(token["access_token"]))
