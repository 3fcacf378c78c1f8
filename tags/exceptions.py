"""Refusals of tag writes, as `{attribute: [messages]}` (JSON:API validation errors)."""

from core.errors import DomainError


class TagError(DomainError):
    default_key = "base"

    def __init__(self, errors: dict[str, list[str]] | str) -> None:
        if isinstance(errors, str):
            errors = {self.default_key: [errors]}
        self.errors = errors
        super().__init__("; ".join(m for messages in errors.values() for m in messages))


class TagInvalid(TagError):
    """A name that breaks the rules, or one already taken in the mode."""

    default_key = "name"


class TagsNotFound(TagError):
    """`_add_tags` / `_remove_tags` named tags that do not exist (they are never created)."""


class TooManyTags(TagError):
    """A resource carries at most MAX_TAGS_PER_RESOURCE tags."""

    default_key = "tags"
