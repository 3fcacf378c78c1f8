from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from api.tokens import AccessToken


class HasAccessToken(BasePermission):
    """Integration tokens may do everything in their mode; sales-channel tokens only the
    actions a viewset lists in `sales_channel_actions`."""

    message = "You are not authorized to perform this action on the requested resource."

    def has_permission(self, request: Request, view: Any) -> bool:
        grant = request.auth
        if not isinstance(grant, AccessToken):
            return False
        if grant.is_sales_channel:
            return getattr(view, "action", None) in getattr(view, "sales_channel_actions", ())
        return True
