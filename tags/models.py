"""Tags: labels of one mode that integrations attach to orders, order copies, order
subscriptions, line items and customers (Commerce Layer's `tags`).

The attachment is one generic table (content type, object id), so a taggable model needs no
column and no migration of its own: only a `GenericRelation` to `TaggedItem`, which deletes its
attachments with it."""

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.validators import RegexValidator
from django.db import models

from core.models import ID_LENGTH, Resource

# Commerce Layer's rules: at most 25 characters among a-z, 0-9, `_`, `-` and `:` (names are
# stored in lower case), at most 10 tags on one resource.
NAME_MAX_LENGTH = 25
NAME_PATTERN = r"^[a-z0-9_:-]+$"
MAX_TAGS_PER_RESOURCE = 10


class Tag(Resource):
    resource_type = "tags"

    name = models.CharField(
        max_length=NAME_MAX_LENGTH,
        validators=[
            RegexValidator(NAME_PATTERN, "use only letters, digits, `_`, `-` and `:`, no spaces")
        ],
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mode", "name"], name="tag_name_unique_per_mode")
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TaggedItem(models.Model):
    """One tag on one resource (of the tag's mode)."""

    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="items")
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.CharField(max_length=ID_LENGTH)
    resource = GenericForeignKey("content_type", "object_id")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tag", "content_type", "object_id"], name="tagged_item_unique"
            )
        ]
        indexes = [models.Index(fields=["content_type", "object_id"])]
        ordering = ["tag__name"]

    def __str__(self) -> str:
        return f"{self.tag} on {self.content_type.model} {self.object_id}"
