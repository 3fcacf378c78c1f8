"""What other apps may listen to: orders imports none of them."""

from django.dispatch import Signal

# Sent by `order_place` inside the placement's transaction, once the order is placed.
# Arguments: `order` (placed, `placed_at` set) and `actor`. A receiver that must not be able to
# refuse or roll back the placement defers its work with `transaction.on_commit`.
order_placed = Signal()
