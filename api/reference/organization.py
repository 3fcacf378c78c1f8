from api.reference import Operation, Resource

REFERENCE = Resource(
    type="organization",
    description="""The organization the API serves (one): its name and slug. The Commerce
Layer CLI reads it when it logs in.""",
    operations={
        "GET /api/organization": Operation(
            summary="Read the organization",
            description="The one organization of this service (`API_ORGANIZATION_NAME`).",
        ),
    },
)
