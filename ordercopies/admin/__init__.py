"""The order copies console (copies.py, with its triggers in triggers.py) and copying from the
order pages (orders.py, with the copy form in copying.py). Importing it registers both: the
order admin of orders/admin/ is replaced by its extension with copying."""

from django.contrib import admin

from ordercopies.admin.copies import OrderCopyAdmin
from ordercopies.admin.orders import OrderCopyingAdmin
from orders.models import Order

admin.site.unregister(Order)
admin.site.register(Order, OrderCopyingAdmin)

# The console's pages fit a 1280 px screen: the app list stays on the home page (the dashboard)
# instead of taking a third of every list's width.
admin.site.enable_nav_sidebar = False
admin.site.site_header = "Order copies console"
admin.site.site_title = "Order copies console"

__all__ = ["OrderCopyAdmin", "OrderCopyingAdmin"]
