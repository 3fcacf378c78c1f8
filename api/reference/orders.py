from api.reference import Example, Operation, Refusal, Resource, Trigger
from api.reference.documents import TIMESTAMPS, document, error, errors, linkage, resource, write
from api.reference.tags import TAG_TRIGGERS

ORDER, MARKET = "p4TGPOwK21", "CJ1jBc2q8y"
AMOUNTS = {
    "subtotal_amount_cents": 4000,
    "discount_amount_cents": 0,
    "shipping_amount_cents": 700,
    "total_tax_amount_cents": 893,
    "total_amount_cents": 5593,
    "formatted_subtotal_amount": "€40.00",
    "formatted_discount_amount": "€0.00",
    "formatted_shipping_amount": "€7.00",
    "formatted_total_tax_amount": "€8.93",
    "formatted_total_amount": "€55.93",
    "subtotal_amount_float": 40.0,
    "discount_amount_float": 0.0,
    "shipping_amount_float": 7.0,
    "total_tax_amount_float": 8.93,
    "total_amount_float": 55.93,
}


def order(status: str, **changes: object) -> dict[str, object]:
    placed = status == "placed"
    attributes = {
        **TIMESTAMPS,
        "number": "1042",
        "status": status,
        "payment_status": "authorized" if placed else "unpaid",
        "fulfillment_status": "unfulfilled",
        "customer_email": "ada@example.com",
        "language_code": "en",
        "currency_code": "EUR",
        "country_code": "DE",
        "coupon_code": "",
        "gift_card_code": "",
        **AMOUNTS,
        "skus_count": 2,
        "placed_at": "2026-11-30T09:20:41.508113Z" if placed else None,
        "approved_at": None,
        "cancelled_at": None,
        "archived_at": None,
        **changes,
    }
    return resource(
        "orders",
        ORDER,
        attributes,
        to_one={
            "market": ("markets", MARKET),
            "customer": ("customers", "sn3jCaXVoi"),
            "shipping_address": ("addresses", "thrRUCLRB1"),
            "billing_address": ("addresses", "thrRUCLRB1"),
            "payment_method": ("payment_methods", "8YkDxF0CxT"),
            "payment_source": ("payment_sources", "yDAOV9JKzV"),
            "order_subscription": None,
        },
        to_many=("line_items", "order_copies", "order_subscriptions", "events"),
    )


REFERENCE = Resource(
    type="orders",
    description="""Orders, the sources and targets of copies. An order is built as a `draft`
(market, customer email, addresses, payment method and source, line items), becomes `pending`
once it has a customer and a SKU line, and is placed with `_place`. A sales channel may read
its market's orders by id, create and change draft and pending ones, and place them.""",
    operations={
        "GET /api/orders": Operation(
            summary="List orders",
            description="""The orders of the token's mode. Filter by status
(`filter[q][status_eq]=placed`), number, customer (`customer_email_address_eq`), market
(`market_code_eq`), amounts and dates (`placed_at_gteq`).""",
        ),
        "POST /api/orders": Operation(
            summary="Create an order",
            description="""A new `draft` order in `market` (a sales channel's is its token's
market when left out). Send `customer_email`, `language_code`, `country_code`, addresses and
payment relationships now or later with PATCH; add lines with `POST /api/line_items`.""",
            requests={
                "draft": Example(
                    summary="A draft order in a market",
                    value=write(
                        "orders",
                        attributes={"customer_email": "ada@example.com", "language_code": "en"},
                        relationships={"market": linkage("markets", MARKET)},
                    ),
                )
            },
        ),
        "GET /api/orders/{id}": Operation(
            summary="Read an order",
            description="""One order with its amounts (cents, formatted and float). Use
`include=line_items,market` to get its lines and market in the same answer.""",
            responses={
                "placed": Example(summary="A placed order", value=document(order("placed")))
            },
        ),
        "PATCH /api/orders/{id}": Operation(
            summary="Change, place, cancel, approve or archive an order",
            description="""Changes the attributes and relationships of a draft or pending order
(`customer_email`, addresses, `payment_method`, `payment_source`, `coupon_code`, …;
`reference` and `metadata` in any status), or sends one trigger (below). The market cannot
change. A sales channel changes only draft and pending orders of its market, pays only with
a payment source it created, and may send `_place` only.""",
            requests={
                "place": Example(
                    summary="Place a pending order",
                    value=write("orders", pk=ORDER, attributes={"_place": True}),
                )
            },
            responses={
                "placed": Example(summary="The placed order", value=document(order("placed"))),
                "refused": Example(
                    summary="A placement refused (422, one error per rule)",
                    value=errors(
                        error(
                            "VALIDATION_ERROR",
                            422,
                            "a billing address is required",
                            "billing_address - a billing address is required",
                            pointer="/data/relationships/billing_address",
                        )
                    ),
                ),
            },
        ),
        "DELETE /api/orders/{id}": Operation(
            summary="Delete an order",
            description="""Deletes a draft or pending order and its lines. Placed orders, and
orders that copies or subscriptions were made from, are archived instead (`_archive`).""",
            refusals=(Refusal(422, "VALIDATION_ERROR", "the order is placed or has copies"),),
        ),
    },
    triggers={
        **TAG_TRIGGERS,
        "_pending": Trigger(
            effect="moves a draft order with a customer and a SKU line to `pending`",
            refused_when="the order has no line items, or is not a draft (422)",
        ),
        "_refresh": Trigger(
            effect="reprices every SKU line from the market's price list today, then re-runs "
            "promotions and totals (the same as `_refresh_prices`)",
            refused_when="the order is placed or later (422), or a SKU has no price in the "
            "market (422)",
        ),
        "_refresh_prices": Trigger(
            effect="reprices every SKU line from the market's price list, then re-runs "
            "promotions and totals",
            refused_when="the order is placed or later (422), or a SKU has no price in the "
            "market (422)",
        ),
        "_validate": Trigger(
            effect="checks every placement rule without placing; records `orders.validate` "
            "when all pass",
            refused_when="a rule fails (422, one error per rule, as `_place` answers)",
        ),
        "_billing_address_clone_id": Trigger(
            effect="sets the billing address to a new copy of the address with that id",
            refused_when="no address with that id (422), or the order is placed (422)",
        ),
        "_shipping_address_clone_id": Trigger(
            effect="sets the shipping address to a new copy of the address with that id",
            refused_when="no address with that id (422), or the order is placed (422)",
        ),
        "_billing_address_same_as_shipping": Trigger(
            effect="sets the billing address to a copy of the shipping address",
            refused_when="the order has no shipping address, or is placed (422)",
        ),
        "_shipping_address_same_as_billing": Trigger(
            effect="sets the shipping address to a copy of the billing address",
            refused_when="the order has no billing address, or is placed (422)",
        ),
        "_customer_payment_source_id": Trigger(
            effect="pays the order with that entry of its customer's wallet (its payment source)",
            refused_when="the entry is not the order customer's (422), or the order is placed "
            "(422)",
        ),
        "_save_payment_source_to_customer_wallet": Trigger(
            effect="saves the order's payment source in its customer's wallet, for later "
            "orders and copies (`reuse_wallet`)",
            refused_when="no customer or payment source, the source is in a wallet already or "
            "belongs to another customer (422)",
        ),
        "_save_billing_address_to_customer_address_book": Trigger(
            effect="saves the order's billing address in its customer's address book",
            refused_when="the order has no customer or billing address (422)",
        ),
        "_save_shipping_address_to_customer_address_book": Trigger(
            effect="saves the order's shipping address in its customer's address book",
            refused_when="the order has no customer or shipping address (422)",
        ),
        "_place": Trigger(
            effect="places a pending order: takes the stock, uses the coupon, authorizes the "
            "payment (or marks it free); activates subscriptions waiting for it",
            refused_when="a placement rule fails: not pending, no lines, no customer email, "
            "billing or shipping address, payment method or source missing, a SKU disabled "
            "or out of stock, an invalid coupon (422, one error per rule)",
        ),
        "_cancel": Trigger(
            effect="cancels a placed or approved order: its stock returns and the payment "
            "authorization is voided",
            refused_when="the order is not placed or approved (422)",
        ),
        "_approve": Trigger(
            effect="approves a placed order",
            refused_when="the order is not placed (422)",
        ),
        "_archive": Trigger(
            effect="sets `archived_at` (the order stays as it is otherwise)",
            refused_when="the order is already archived (422)",
        ),
        "_unarchive": Trigger(
            effect="clears `archived_at`",
            refused_when="the order is not archived (422)",
        ),
    },
    attributes={
        "number": "the order's number (unique)",
        "status": "`draft`, `pending` (a customer and a SKU line), `placed`, `approved` or "
        "`cancelled`",
        "payment_status": "`unpaid` until placed; placing sets `authorized` (or `free` when "
        "there is nothing to pay), cancelling voids an authorization (`voided`)",
        "fulfillment_status": "`unfulfilled`; `not_required` when placed with no line to ship",
        "customer_email": "the customer's email: setting it binds the order to that customer",
        "coupon_code": "a coupon of the market's promotions; checked when set and at placement",
        "currency_code": "the market's currency",
        "skus_count": "the number of SKU units on the order's lines",
        "placed_at": "when `_place` succeeded",
    },
)
