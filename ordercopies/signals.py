"""What other apps may listen to: ordercopies imports none of them (subscriptions imports it)."""

from django.dispatch import Signal

# Sent by the copy engine when a copy ends, completed or failed, inside the transaction that
# records the end: a receiver's writes commit (or roll back) with it. Arguments: `order_copy`
# (the OrderCopy as it ended) and `succeeded` (True when completed). A receiver must let a
# database error propagate (it may catch its own other errors inside a savepoint): a caught
# database error leaves the transaction to roll back while the copy would report its end. The
# engine refuses that case too (it retries), but a receiver should not rely on it.
order_copy_ended = Signal()
