class DomainError(Exception):
    """A service's refusal, raised by every app's domain errors: `errors` maps an attribute
    (or "base") to messages, the shape of JSON:API validation errors with their pointers."""

    errors: dict[str, list[str]]
