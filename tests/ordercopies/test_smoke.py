from ordercopies import services
from ordercopies.models import OrderCopy


def test_copy_completes(make_order):
    source = make_order(lines=3, place=True)
    copy = services.order_copy_create(source_order=source, mode="test", place_target_order=True)
    assert copy.status == "pending"
    done = services.order_copy_execute(order_copy_id=copy.pk)
    assert done.status == OrderCopy.Status.COMPLETED, done.errors_log
    assert done.target_order.status == "placed"
    assert done.target_order.total_amount_cents == source.total_amount_cents
