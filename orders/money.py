"""Money is integer cents; these give the formatted twins the API and the admin show."""

from decimal import ROUND_HALF_UP, Decimal

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}


def format_cents(cents: int, currency_code: str) -> str:
    sign = "-" if cents < 0 else ""
    units, hundredths = divmod(abs(cents), 100)
    symbol = CURRENCY_SYMBOLS.get(currency_code, f"{currency_code} ")
    return f"{sign}{symbol}{units:,}.{hundredths:02d}"


def cents_as_float(cents: int) -> float:
    return float(Decimal(cents) / 100)


def percentage_of(cents: int, rate: Decimal) -> int:
    """`rate` (0.22 for 22 %) of an amount, rounded half up to the cent."""
    return int((Decimal(cents) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))
