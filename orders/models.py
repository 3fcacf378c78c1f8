from datetime import datetime
from decimal import Decimal

from django.contrib.contenttypes.fields import GenericRelation
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from core.models import Resource
from orders.money import format_cents


class Market(Resource):
    resource_type = "markets"

    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=120)
    currency_code = models.CharField(max_length=3)
    shipping_amount_cents = models.PositiveIntegerField(
        default=0, help_text="Flat shipping cost of an order with something to ship."
    )
    tax_rate = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=Decimal(0),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(1))],
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mode", "code"], name="market_code_unique_per_mode")
        ]
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.currency_code})"


class Customer(Resource):
    resource_type = "customers"

    email = models.EmailField()
    # Its tags (tags/): the attachments go with the row.
    tag_links = GenericRelation("tags.TaggedItem")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mode", "email"], name="customer_email_unique_per_mode")
        ]
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email


class Sku(Resource):
    resource_type = "skus"

    code = models.CharField(max_length=60)
    name = models.CharField(max_length=200)
    stock_quantity = models.PositiveIntegerField(default=0)
    do_not_ship = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mode", "code"], name="sku_code_unique_per_mode")
        ]
        ordering = ["code"]
        verbose_name = "SKU"

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class SkuPrice(models.Model):
    sku = models.ForeignKey(Sku, on_delete=models.CASCADE, related_name="prices")
    market = models.ForeignKey(Market, on_delete=models.CASCADE, related_name="prices")
    amount_cents = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sku", "market"], name="one_price_per_sku_and_market")
        ]

    def __str__(self) -> str:
        return f"{self.sku.code} in {self.market.code}: {self.amount_cents}"


class Address(Resource):
    resource_type = "addresses"

    first_name = models.CharField(max_length=80, blank=True, default="")
    last_name = models.CharField(max_length=80, blank=True, default="")
    company = models.CharField(max_length=120, blank=True, default="")
    line_1 = models.CharField(max_length=200)
    line_2 = models.CharField(max_length=200, blank=True, default="")
    city = models.CharField(max_length=120)
    zip_code = models.CharField(max_length=20, blank=True, default="")
    state_code = models.CharField(max_length=20, blank=True, default="")
    country_code = models.CharField(max_length=2)
    phone = models.CharField(max_length=40, blank=True, default="")
    email = models.EmailField(blank=True, default="")

    COPIED_FIELDS = (
        "mode",
        "first_name",
        "last_name",
        "company",
        "line_1",
        "line_2",
        "city",
        "zip_code",
        "state_code",
        "country_code",
        "phone",
        "email",
    )

    class Meta:
        verbose_name_plural = "addresses"

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return ", ".join(part for part in (name, self.line_1, self.city, self.country_code) if part)


class PaymentMethod(Resource):
    resource_type = "payment_methods"

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="payment_methods")
    name = models.CharField(max_length=120)
    payment_source_type = models.CharField(
        max_length=40, help_text="The kind of payment source it takes, e.g. stripe_payments."
    )
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.market.code})"


class PaymentSource(Resource):
    resource_type = "payment_sources"

    payment_source_type = models.CharField(max_length=40)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="payment_sources"
    )
    token = models.CharField(max_length=120, blank=True, default="")
    details = models.JSONField(default=dict, blank=True, help_text="e.g. brand and last4 digits")
    created_by_client = models.CharField(
        max_length=10,
        blank=True,
        default="",
        db_index=True,
        help_text="The API client that created it (empty: staff, a command or a copy). A sales "
        "channel may pay an order only with a source it created itself.",
    )

    def __str__(self) -> str:
        last4 = self.details.get("last4") if isinstance(self.details, dict) else None
        return f"{self.payment_source_type}" + (f" •••• {last4}" if last4 else "")


class CustomerPaymentSource(Resource):
    """A payment source saved in a customer's wallet: the only kind a copy may reuse."""

    resource_type = "customer_payment_sources"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="wallet")
    payment_source = models.OneToOneField(
        PaymentSource, on_delete=models.CASCADE, related_name="wallet_entry"
    )

    def __str__(self) -> str:
        return f"{self.customer.email}: {self.payment_source}"


class CustomerAddress(Resource):
    """An address saved in a customer's address book (its own copy: orders never share it)."""

    resource_type = "customer_addresses"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="address_book")
    address = models.OneToOneField(Address, on_delete=models.CASCADE, related_name="book_entry")

    class Meta:
        verbose_name_plural = "customer addresses"

    def __str__(self) -> str:
        return f"{self.customer.email}: {self.address}"


class Promotion(Resource):
    resource_type = "promotions"

    class Kind(models.TextChoices):
        PERCENTAGE = "percentage", "Percentage discount"
        FIXED = "fixed", "Fixed amount discount"

    market = models.ForeignKey(Market, on_delete=models.CASCADE, related_name="promotions")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    percentage = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(100)], help_text="For percentage discounts."
    )
    amount_cents = models.PositiveIntegerField(default=0, help_text="For fixed discounts.")
    starts_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    requires_coupon = models.BooleanField(
        default=False, help_text="Applies only to orders with one of its coupons."
    )

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("starts_at")),
                name="promotion_expires_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def is_active(self, at: datetime) -> bool:
        return self.starts_at <= at < self.expires_at


class Coupon(Resource):
    resource_type = "coupons"

    code = models.CharField(max_length=60)
    promotion = models.ForeignKey(Promotion, on_delete=models.CASCADE, related_name="coupons")
    usage_limit = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: unlimited.")
    usage_count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mode", "code"], name="coupon_code_unique_per_mode")
        ]
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code

    def invalid_reason(self, at: datetime) -> str | None:
        """Why the coupon cannot be used at `at`, or None when it can."""
        if self.expires_at is not None and self.expires_at <= at:
            return f"coupon {self.code} has expired"
        if self.usage_limit is not None and self.usage_count >= self.usage_limit:
            return f"coupon {self.code} has been used up"
        if not self.promotion.is_active(at):
            return f"coupon {self.code} belongs to a promotion that is not active"
        return None


class OrderNumber(models.Model):
    """Hands out increasing order numbers without locking: one row per number taken."""

    id = models.BigAutoField(primary_key=True)

    def __str__(self) -> str:
        return str(self.pk)


class Order(ConcurrentTransitionMixin, Resource):
    resource_type = "orders"

    class Status(models.TextChoices):
        DRAFT = "draft"
        PENDING = "pending"
        PLACED = "placed"
        APPROVED = "approved"
        CANCELLED = "cancelled"

    class PaymentStatus(models.TextChoices):
        UNPAID = "unpaid"
        AUTHORIZED = "authorized"
        PAID = "paid"
        VOIDED = "voided"
        REFUNDED = "refunded"
        FREE = "free"

    class FulfillmentStatus(models.TextChoices):
        UNFULFILLED = "unfulfilled"
        IN_PROGRESS = "in_progress"
        FULFILLED = "fulfilled"
        NOT_REQUIRED = "not_required"

    number = models.CharField(max_length=20, unique=True, editable=False)
    status = FSMField(default=Status.DRAFT, choices=Status.choices, protected=True, db_index=True)
    payment_status = FSMField(
        default=PaymentStatus.UNPAID, choices=PaymentStatus.choices, protected=True
    )
    fulfillment_status = FSMField(
        default=FulfillmentStatus.UNFULFILLED, choices=FulfillmentStatus.choices, protected=True
    )
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="orders")
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    customer_email = models.EmailField(blank=True, default="")
    language_code = models.CharField(max_length=8, default="en")
    currency_code = models.CharField(max_length=3, editable=False)
    country_code = models.CharField(max_length=2, blank=True, default="")
    coupon_code = models.CharField(max_length=60, blank=True, default="")
    gift_card_code = models.CharField(max_length=60, blank=True, default="")
    shipping_address = models.ForeignKey(
        Address, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    billing_address = models.ForeignKey(
        Address, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    payment_method = models.ForeignKey(
        PaymentMethod, null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    payment_source = models.ForeignKey(
        PaymentSource, null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    # Its tags (tags/): the attachments go with the row.
    tag_links = GenericRelation("tags.TaggedItem")
    subtotal_amount_cents = models.IntegerField(default=0, editable=False)
    discount_amount_cents = models.IntegerField(default=0, editable=False)
    shipping_amount_cents = models.IntegerField(default=0, editable=False)
    total_tax_amount_cents = models.IntegerField(default=0, editable=False)
    total_amount_cents = models.IntegerField(default=0, editable=False)
    skus_count = models.PositiveIntegerField(default=0, editable=False)
    placed_at = models.DateTimeField(null=True, blank=True, editable=False)
    approved_at = models.DateTimeField(null=True, blank=True, editable=False)
    cancelled_at = models.DateTimeField(null=True, blank=True, editable=False)
    archived_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(discount_amount_cents__lte=0), name="order_discount_not_positive"
            ),
            models.CheckConstraint(
                condition=~Q(status="placed") | Q(placed_at__isnull=False),
                name="placed_order_has_placed_at",
            ),
            models.CheckConstraint(
                condition=~Q(status="cancelled") | Q(cancelled_at__isnull=False),
                name="cancelled_order_has_cancelled_at",
            ),
        ]
        permissions = [
            ("place_order", "Can place orders"),
            ("approve_order", "Can approve orders"),
            ("cancel_order", "Can cancel orders"),
            ("archive_order", "Can archive and unarchive orders"),
        ]

    def __str__(self) -> str:
        return f"#{self.number}"

    # Transitions change fields in memory only; orders/services.py locks, checks, saves and
    # records the event.

    @transition(field=status, source=Status.DRAFT, target=Status.PENDING)
    def make_pending(self) -> None:
        pass

    @transition(field=status, source=Status.PENDING, target=Status.PLACED)
    def place(self, *, at: datetime) -> None:
        self.placed_at = at

    @transition(field=status, source=Status.PLACED, target=Status.APPROVED)
    def approve(self, *, at: datetime) -> None:
        self.approved_at = at

    @transition(field=status, source=[Status.PLACED, Status.APPROVED], target=Status.CANCELLED)
    def cancel(self, *, at: datetime) -> None:
        self.cancelled_at = at

    @transition(field=payment_status, source=PaymentStatus.UNPAID, target=PaymentStatus.AUTHORIZED)
    def authorize_payment(self) -> None:
        pass

    @transition(field=payment_status, source=PaymentStatus.UNPAID, target=PaymentStatus.FREE)
    def mark_free(self) -> None:
        pass

    @transition(field=payment_status, source=PaymentStatus.AUTHORIZED, target=PaymentStatus.VOIDED)
    def void_payment(self) -> None:
        pass

    @transition(
        field=fulfillment_status,
        source=FulfillmentStatus.UNFULFILLED,
        target=FulfillmentStatus.NOT_REQUIRED,
    )
    def mark_fulfillment_not_required(self) -> None:
        pass

    @property
    def is_editable(self) -> bool:
        return self.status in (self.Status.DRAFT, self.Status.PENDING)

    def formatted(self, cents: int) -> str:
        return format_cents(cents, self.currency_code)


class LineItem(Resource):
    resource_type = "line_items"

    class ItemType(models.TextChoices):
        SKUS = "skus"
        PROMOTIONS = "promotions"
        COUPONS = "coupons"
        GIFT_CARDS = "gift_cards"
        SHIPMENTS = "shipments"
        PAYMENT_METHODS = "payment_methods"

    DISCOUNT_TYPES = (ItemType.PROMOTIONS, ItemType.COUPONS, ItemType.GIFT_CARDS)

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="line_items")
    item_type = models.CharField(max_length=20, choices=ItemType.choices, default=ItemType.SKUS)
    sku = models.ForeignKey(
        Sku, null=True, blank=True, on_delete=models.PROTECT, related_name="line_items"
    )
    promotion = models.ForeignKey(
        Promotion, null=True, blank=True, on_delete=models.SET_NULL, related_name="line_items"
    )
    sku_code = models.CharField(max_length=60, blank=True, default="")
    name = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField(default=1)
    unit_amount_cents = models.IntegerField(default=0)
    total_amount_cents = models.IntegerField(default=0)
    # Its tags (tags/): the attachments go with the row.
    tag_links = GenericRelation("tags.TaggedItem")

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="line_item_quantity_positive"
            ),
            models.CheckConstraint(
                condition=~Q(item_type="skus") | Q(sku__isnull=False),
                name="sku_line_item_has_sku",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.name}"
