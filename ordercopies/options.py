"""The options of a copy, declared once. The model's fields and defaults, the command flags and
the services' keyword arguments are read from `CopyOptions`; nothing else lists them."""

from dataclasses import asdict, dataclass, field, fields
from typing import Any


def _option(default: bool, help_text: str) -> Any:
    return field(default=default, metadata={"help": help_text})


@dataclass(frozen=True, slots=True, kw_only=True)
class CopyOptions:
    """What a copy does besides copying the lines (SPEC.md §3)."""

    place_target_order: bool = _option(False, "place the target order once it is built")
    reuse_wallet: bool = _option(True, "copy the payment source when it is in the wallet")
    cancel_source_order: bool = _option(False, "cancel the source order as the copy ends")
    apply_promotions: bool = _option(False, "recompute discounts for today instead of freezing")
    skip_errors: bool = _option(False, "log errors and complete the copy anyway")
    ignore_invalid_coupon: bool = _option(False, "drop an invalid coupon instead of failing")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(option.name for option in fields(cls))

    @classmethod
    def defaults(cls) -> dict[str, bool]:
        return asdict(cls())

    @classmethod
    def help_texts(cls) -> dict[str, str]:
        return {option.name: option.metadata["help"] for option in fields(cls)}

    @classmethod
    def of(cls, source: Any) -> "CopyOptions":
        """The options an object (a copy, a form's data) carries as attributes."""
        return cls(**{name: bool(getattr(source, name)) for name in cls.names()})

    def as_dict(self) -> dict[str, bool]:
        return asdict(self)
