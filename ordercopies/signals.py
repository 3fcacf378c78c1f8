"""What other apps may listen to: ordercopies imports none of them (subscriptions imports it)."""

from django.dispatch import Signal

# Sent by the copy engine when a copy ends, completed or failed, inside the transaction that
# records the end: a receiver's writes commit (or roll back) with it. Arguments: `order_copy`
# (the OrderCopy as it ended) and `succeeded` (True when completed).
order_copy_ended = Signal()
