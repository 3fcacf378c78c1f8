"""The order copies console (copies.py, with its triggers in triggers.py) and copying from the
order pages (orders.py, with the copy form in copying.py). Importing it registers both: the
order admin of orders/admin/ is replaced by its extension with copying."""

from django.contrib import admin

from ordercopies.admin.copies import OrderCopyAdmin
from ordercopies.admin.orders import OrderCopyingAdmin
from orders.models import Order

admin.site.unregister(Order)
admin.site.register(Order, OrderCopyingAdmin)

__all__ = ["OrderCopyAdmin", "OrderCopyingAdmin"]
