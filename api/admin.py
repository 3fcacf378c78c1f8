from django.contrib import admin, messages
from django.http import HttpRequest

from api.models import ApiClient
from api.services import api_client_revoke


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "mode", "client_id", "market_codes", "revoked_at", "created_at"]
    list_filter = ["kind", "mode"]
    search_fields = ["name", "client_id"]
    readonly_fields = ["client_id", "revoked_at", "created_at"]
    actions = ["revoke"]

    def save_model(self, request: HttpRequest, obj: ApiClient, form, change: bool) -> None:  # type: ignore[no-untyped-def]
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
    def revoke(self, request: HttpRequest, queryset) -> None:  # type: ignore[no-untyped-def]
        count = 0
        for client in queryset.filter(revoked_at__isnull=True):
            api_client_revoke(client=client)
            count += 1
        self.message_user(request, f"Revoked {count} API clients.")
