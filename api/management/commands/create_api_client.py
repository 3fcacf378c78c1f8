import json
from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from api.models import ApiClient
from api.services import api_client_create
from core.models import Mode


class Command(BaseCommand):
    help = "Create an API client; its secret is printed once and cannot be shown again."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--kind", required=True, choices=ApiClient.Kind.values)
        parser.add_argument("--mode", required=True, choices=Mode.values)
        parser.add_argument("--market", action="append", default=[], metavar="CODE")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["kind"] == ApiClient.Kind.SALES_CHANNEL and not opts["market"]:
            raise CommandError("a sales channel needs at least one --market CODE")
        try:
            client, secret = api_client_create(
                name=opts["name"], kind=opts["kind"], mode=opts["mode"], market_codes=opts["market"]
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        result = {
            "id": client.pk,
            "name": client.name,
            "kind": client.kind,
            "mode": client.mode,
            "client_id": client.client_id,
            "client_secret": secret,
            "markets": client.market_codes,
        }
        if opts["json"]:
            self.stdout.write(json.dumps(result))
            return
        for key, value in result.items():
            self.stdout.write(f"{key}: {value}")
        if secret:
            self.stdout.write(self.style.WARNING("Store the secret now: it is not shown again."))
