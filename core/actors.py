from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something: recorded on every event.

    kind is "system", "user" (a staff member in the admin) or "api_client".
    """

    kind: str
    id: str = ""
    label: str = ""

    @classmethod
    def user(cls, user: object) -> "Actor":
        return cls(kind="user", id=str(getattr(user, "pk", "")), label=str(user))


SYSTEM = Actor(kind="system", label="system")
