"""What other apps may listen to: ordercopies imports none of them (subscriptions imports it)."""

from django.dispatch import Signal

# Sent by the copy engine once for every batch of copies that end, completed or failed, inside
# the transaction that records the ends: a receiver's writes commit (or roll back) with them.
# Argument: `ends`, a list of (the OrderCopy as it ended, True when completed), so that a
# receiver can do its work set-wise, in a number of queries that does not grow with the batch.
# A receiver must let a database error propagate (it may catch its own other errors inside a
# savepoint): a caught database error leaves the transaction to roll back while the copies
# would report their end. The engine refuses that case too (it retries), but a receiver should
# not rely on it.
order_copies_ended = Signal()
