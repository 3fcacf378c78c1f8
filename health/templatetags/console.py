"""`{% copies_dashboard %}`: the console's dashboard (ordercopies/admin/dashboard.py) on the
admin index, for staff who may view order copies."""

from typing import Any

from django import template

from ordercopies.admin.dashboard import dashboard_context

register = template.Library()


@register.inclusion_tag("admin/ordercopies/dashboard.html", takes_context=True)
def copies_dashboard(context: template.Context) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.has_perm("ordercopies.view_ordercopy"):
        return {"shown": False}
    return {"shown": True, **dashboard_context()}
