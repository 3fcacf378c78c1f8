from api.reference import Example, Operation, Refusal, Resource, Trigger
from api.reference.documents import write

# The two triggers every taggable resource (orders, order copies, order subscriptions, line
# items, customers) takes; each resource's reference lists them with its own.
TAG_TRIGGERS = {
    "_add_tags": Trigger(
        effect="""Attaches the named tags (comma-separated names of existing tags of the
token's mode, e.g. `vip,gift`) to the resource, in the same transaction as the rest of the
write.""",
        refused_when="""a name is not an existing tag (422 naming it), the resource would carry
more than 10 tags, or the token is a sales channel's (401)""",
    ),
    "_remove_tags": Trigger(
        effect="""Detaches the named tags (comma-separated) from the resource; applied after
`_add_tags` when both are sent.""",
        refused_when="""a name is not an existing tag (422 naming it), or the token is a sales
channel's""",
    ),
}

REFERENCE = Resource(
    type="tags",
    description="""Labels an integration puts on orders, order copies, order subscriptions, line
items and customers: one set per mode, names in lower case (at most 25 characters of `a-z`,
`0-9`, `_`, `-`, `:`), at most 10 on a resource. Attach them with the `_add_tags` /
`_remove_tags` triggers or by sending a resource's `tags` linkage; read them at
`/api/<type>/<id>/tags`; find resources by tag with `filter[q][tags_name_in]=vip,gift`.
Integrations only.""",
    operations={
        "GET /api/tags": Operation(
            summary="List tags",
            description="The tags of the token's mode; filter by `name_in`, `name_start`, ….",
        ),
        "POST /api/tags": Operation(
            summary="Create a tag",
            description="Creates a tag of the token's mode; its name is stored in lower case.",
            requests={
                "tag": Example(summary="A tag", value=write("tags", attributes={"name": "vip"}))
            },
            refusals=(Refusal(422, "VALIDATION_ERROR", "the name is taken or not a tag name"),),
        ),
        "GET /api/tags/{id}": Operation(summary="Read a tag", description="One tag, by id."),
        "PATCH /api/tags/{id}": Operation(
            summary="Rename a tag",
            description="Changes the name (or reference, metadata); tagged resources keep the tag.",
            refusals=(Refusal(422, "VALIDATION_ERROR", "the new name is taken or not a tag name"),),
        ),
        "DELETE /api/tags/{id}": Operation(
            summary="Delete a tag",
            description="Deletes the tag and detaches it from every resource that carried it.",
        ),
    },
)
