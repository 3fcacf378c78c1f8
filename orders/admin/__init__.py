"""The orders back office, one module per part: markets, the catalogue, customers and payment,
orders and their lines. Importing the package registers them all."""

from orders.admin.catalogue import CouponAdmin, PromotionAdmin, SkuAdmin
from orders.admin.customers import (
    AddressAdmin,
    CustomerAdmin,
    CustomerPaymentSourceAdmin,
    PaymentMethodAdmin,
    PaymentSourceAdmin,
)
from orders.admin.markets import MarketAdmin, MarketChoiceField, market_label
from orders.admin.orders import LineItemAdmin, OrderAdmin, errors_text

__all__ = [
    "AddressAdmin",
    "CouponAdmin",
    "CustomerAdmin",
    "CustomerPaymentSourceAdmin",
    "LineItemAdmin",
    "MarketAdmin",
    "MarketChoiceField",
    "OrderAdmin",
    "PaymentMethodAdmin",
    "PaymentSourceAdmin",
    "PromotionAdmin",
    "SkuAdmin",
    "errors_text",
    "market_label",
]
