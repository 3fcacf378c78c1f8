from orders.models import Order


def test_order_built_through_services_is_pending_and_places(make_order):
    order = make_order(lines=3, quantity=2)
    assert order.status == Order.Status.PENDING
    assert order.skus_count == 6
    assert order.subtotal_amount_cents == 6000
    placed = make_order(place=True)
    assert placed.status == Order.Status.PLACED
    assert placed.payment_status == Order.PaymentStatus.AUTHORIZED
