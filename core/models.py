import secrets
import string

from django.db import models

ID_ALPHABET = string.ascii_letters + string.digits
ID_LENGTH = 10
ID_SPACE = len(ID_ALPHABET) ** ID_LENGTH


def generate_id() -> str:
    """An opaque, non-sequential 10-character alphanumeric id, as Commerce Layer's: one
    uniform draw from the system's randomness written in base 62 (one draw per character
    cost a copy batch a tenth of its time)."""
    number = secrets.randbelow(ID_SPACE)
    characters = []
    for _ in range(ID_LENGTH):
        number, digit = divmod(number, len(ID_ALPHABET))
        characters.append(ID_ALPHABET[digit])
    return "".join(characters)


class Mode(models.TextChoices):
    TEST = "test", "Test"
    LIVE = "live", "Live"


class Resource(models.Model):
    id = models.CharField(
        primary_key=True, max_length=ID_LENGTH, default=generate_id, editable=False
    )
    mode = models.CharField(max_length=4, choices=Mode.choices, default=Mode.TEST, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    reference = models.CharField(max_length=255, blank=True, default="")
    reference_origin = models.CharField(max_length=255, blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        abstract = True
