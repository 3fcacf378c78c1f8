"""Refusals of tag writes, as `{attribute: [messages]}` (JSON:API validation errors)."""

from core.errors import DomainError


class TagError(DomainError):
    pass


class TagInvalid(TagError):
    """A name that breaks the rules, or one already taken in the mode."""

    key = "name"


class TagsNotFound(TagError):
    """`_add_tags` / `_remove_tags` named tags that do not exist (they are never created)."""


class TooManyTags(TagError):
    """A resource carries at most MAX_TAGS_PER_RESOURCE tags."""

    key = "tags"
