from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from api.models import ApiClient
from api.services import api_client_revoke
from core.actors import Actor
from core.admin_actions import ServiceAction, service_action_run
from orders.models import Market


class ClientAlreadyRevoked(Exception):
    pass


def _revoke(client: ApiClient, actor: Actor) -> None:
    if client.revoked_at is not None:
        raise ClientAlreadyRevoked("it was revoked already")
    api_client_revoke(client=client)


REVOKE = ServiceAction(
    name="revoke",
    service=_revoke,
    refused=ClientAlreadyRevoked,
    done="revoked",
    verb="revoke",
    consequence="Their access tokens stop working at once, and they get no new ones: the "
    "systems using them are cut off until they get a new client.",
    nouns=("API client", "API clients"),
)


class ApiClientForm(forms.ModelForm[ApiClient]):
    """Market codes as boxes to tick, not a JSON list to type."""

    market_codes = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The markets a sales channel may ask a token for (integrations see every "
        "market of their mode).",
    )

    class Meta:
        model = ApiClient
        fields = ["name", "kind", "mode", "market_codes"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names: dict[str, str] = {}
        for code, name in Market.objects.order_by("code", "mode").values_list("code", "name"):
            names.setdefault(code, name)
        for code in self.instance.market_codes or []:
            names.setdefault(code, "no such market now")
        field = self.fields["market_codes"]
        assert isinstance(field, forms.MultipleChoiceField)  # noqa: S101 (declared above)
        field.choices = [(code, f"{code} ({name})") for code, name in sorted(names.items())]


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin[ApiClient]):
    form = ApiClientForm
    list_display = ["name", "kind", "mode", "markets", "revoked_at", "created_at"]
    list_filter = ["kind", "mode"]
    search_fields = ["name", "client_id"]
    readonly_fields = ["client_id", "revoked_at", "created_at"]
    actions = ["revoke"]

    def save_model(self, request: HttpRequest, obj: ApiClient, form: Any, change: bool) -> None:
        secret = None if change else obj.set_new_credentials()
        super().save_model(request, obj, form, change)
        if secret:
            self.message_user(
                request, f"Client secret (shown once, store it now): {secret}", messages.WARNING
            )

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        # Viewing clients is not enough to cut an integration off: revoking is its own right.
        return request.user.has_perm("api.revoke_apiclient")

    @admin.action(
        description="Revoke the selected clients (their tokens stop working)",
        permissions=["revoke"],
    )
    def revoke(
        self, request: HttpRequest, queryset: QuerySet[ApiClient]
    ) -> TemplateResponse | None:
        return service_action_run(self, request, queryset, action=REVOKE)

    @admin.display(description="markets", ordering="market_codes")
    def markets(self, obj: ApiClient) -> str:
        """The market codes a sales channel may ask a scope for, as a list (no JSON)."""
        return ", ".join(obj.market_codes) or "-"
