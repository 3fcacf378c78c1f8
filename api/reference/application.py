from api.reference import Operation, Resource

REFERENCE = Resource(
    type="application",
    description="""The API client of the token: its name, kind (integration or sales channel)
and mode. The Commerce Layer CLI reads it when it logs in.""",
    operations={
        "GET /api/application": Operation(
            summary="Read the token's application",
            description="The API client the token was issued to.",
        ),
    },
)
