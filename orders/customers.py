"""Writes on customers, their wallets and addresses, as the API offers them. Each refuses with a
domain error what would break an order's record, and records an event."""

from typing import Any

from django.db import transaction

from core.actors import SYSTEM, Actor
from events.services import event_record
from orders.exceptions import AddressInUse, CustomerHasOrders, OrderInvalid
from orders.models import Address, Customer, CustomerPaymentSource, Order, PaymentSource

COMMON_FIELDS = {"reference", "reference_origin", "metadata"}
CUSTOMER_FIELDS = {"email", *COMMON_FIELDS}


def _set(instance: Any, changes: dict[str, Any], allowed: set[str], noun: str) -> None:
    """Save `changes` on `instance` (created when it has no row yet)."""
    unknown = set(changes) - allowed
    if unknown:
        raise OrderInvalid(f"these {noun} fields cannot be changed: {', '.join(sorted(unknown))}")
    for field, value in changes.items():
        setattr(instance, field, value)
    if instance._state.adding:
        instance.save()
    else:
        instance.save(update_fields=[*changes, "updated_at"])


@transaction.atomic
def customer_create(*, mode: str, email: str, actor: Actor = SYSTEM, **common: Any) -> Customer:
    email = email.strip().lower()
    if Customer.objects.filter(mode=mode, email=email).exists():
        raise OrderInvalid({"email": [f"a customer with email {email} exists"]})
    customer = Customer(mode=mode, email=email)
    _set(customer, common, CUSTOMER_FIELDS - {"email"}, "customer")
    event_record(name="customers.create", resource=customer, actor=actor)
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, actor: Actor = SYSTEM, **changes: Any) -> Customer:
    """Change a customer's email, reference or metadata. Orders keep the email they were
    placed with (`customer_email`)."""
    if "email" in changes:
        changes["email"] = changes["email"].strip().lower()
        taken = Customer.objects.filter(mode=customer.mode, email=changes["email"])
        if taken.exclude(pk=customer.pk).exists():
            raise OrderInvalid({"email": [f"a customer with email {changes['email']} exists"]})
    _set(customer, changes, CUSTOMER_FIELDS, "customer")
    event_record(
        name="customers.update",
        resource=customer,
        actor=actor,
        payload={"changed": sorted(changes)},
    )
    return customer


@transaction.atomic
def customer_delete(*, customer: Customer, actor: Actor = SYSTEM) -> None:
    if Order.objects.filter(customer=customer).exists():
        raise CustomerHasOrders("a customer with orders is part of their record: keep it")
    event_record(name="customers.destroy", resource=customer, actor=actor)
    customer.delete()


@transaction.atomic
def customer_payment_source_create(
    *, customer: Customer, payment_source: PaymentSource, actor: Actor = SYSTEM, **common: Any
) -> CustomerPaymentSource:
    """Save a payment source in a customer's wallet (the only kind a copy may reuse)."""
    if payment_source.mode != customer.mode:
        raise OrderInvalid(
            {"payment_source": [f"payment source {payment_source.pk} does not exist"]}
        )
    if payment_source.customer_id not in (None, customer.pk):
        raise OrderInvalid({"payment_source": ["the payment source belongs to another customer"]})
    if CustomerPaymentSource.objects.filter(payment_source=payment_source).exists():
        raise OrderInvalid({"payment_source": ["the payment source is already in a wallet"]})
    payment_source.customer = customer
    payment_source.save(update_fields=["customer", "updated_at"])
    entry = CustomerPaymentSource(
        mode=customer.mode, customer=customer, payment_source=payment_source
    )
    _set(
        entry, common, {"reference", "reference_origin", "metadata"}, "wallet"
    ) if common else entry.save()
    event_record(name="customer_payment_sources.create", resource=entry, actor=actor)
    return entry


@transaction.atomic
def customer_payment_source_update(
    *, entry: CustomerPaymentSource, actor: Actor = SYSTEM, **changes: Any
) -> CustomerPaymentSource:
    _set(entry, changes, COMMON_FIELDS, "wallet")
    event_record(name="customer_payment_sources.update", resource=entry, actor=actor)
    return entry


@transaction.atomic
def customer_payment_source_delete(*, entry: CustomerPaymentSource, actor: Actor = SYSTEM) -> None:
    """Take a source out of the wallet; orders it paid keep it."""
    event_record(name="customer_payment_sources.destroy", resource=entry, actor=actor)
    entry.delete()


def _orders_using(address: Address) -> Any:
    return Order.objects.filter(shipping_address=address) | Order.objects.filter(
        billing_address=address
    )


@transaction.atomic
def address_update(*, address: Address, actor: Actor = SYSTEM, **changes: Any) -> Address:
    """Change an address while no placed (or later) order uses it: those keep what they were
    placed with."""
    address = Address.objects.select_for_update().get(pk=address.pk)
    if any(not order.is_editable for order in _orders_using(address)):
        raise AddressInUse("the address belongs to a placed order: it cannot change")
    _set(
        address,
        changes,
        set(Address.COPIED_FIELDS[1:]) | {"reference", "reference_origin", "metadata"},
        "address",
    )
    event_record(
        name="addresses.update", resource=address, actor=actor, payload={"changed": sorted(changes)}
    )
    return address


@transaction.atomic
def address_delete(*, address: Address, actor: Actor = SYSTEM) -> None:
    """Delete an address no order uses (an order's address is part of it: set another first)."""
    if _orders_using(address).exists():
        raise AddressInUse("the address is used by an order: set another address on it first")
    event_record(name="addresses.destroy", resource=address, actor=actor)
    address.delete()
