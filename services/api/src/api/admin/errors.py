"""The failures of `messaging-admin` a person can act on: each is one line saying what to do.

The functions raise them; only `api.admin.main` turns one into a line on stderr and exit code 1.
"""

import difflib


class AdminError(Exception):
    """An expected failure of an operator command; its message is one actionable line."""


class NoDatabase(AdminError):
    """Neither DATABASE_URL nor a running `make up` says where the database is."""


class DatabaseUnreachable(AdminError):
    """The database at `url` does not answer (or refuses us)."""

    def __init__(self, url: str, reason: str) -> None:
        self.url, self.reason = url, reason
        super().__init__(f"cannot reach PostgreSQL at {url}: {reason}")


class SchemaMissing(AdminError):
    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(f"the database at {url} has no messaging schema yet: run `messaging-admin migrate` first")


class UnknownLoyaltyClub(AdminError):
    def __init__(self, slugs: list[str]) -> None:
        self.slugs = slugs
        super().__init__(
            f"unknown loyalty club: {', '.join(sorted(slugs))} (`messaging-admin list-lcs` lists them; "
            "`messaging-admin create-lc SLUG --name NAME` creates one)"
        )


class LoyaltyClubExists(AdminError):
    def __init__(self, slug: str) -> None:
        self.slug = slug
        super().__init__(
            f"loyalty club {slug} exists already (`messaging-admin list-lcs` lists them): choose another slug"
        )


class UnknownPermit(AdminError):
    def __init__(self, permit: str, known: tuple[str, ...]) -> None:
        self.permit = permit
        close = difflib.get_close_matches(permit, known, n=1, cutoff=0.8)
        hint = f"did you mean {close[0]}? " if close else ""
        super().__init__(f"unknown permit {permit!r}: {hint}`messaging-admin create-client --help` lists them")


class UnknownClient(AdminError):
    def __init__(self, client_id: int) -> None:
        self.client_id = client_id
        super().__init__(f"no API client {client_id} (`messaging-admin list-clients --lc SLUG` lists them)")


class UnknownSending(AdminError):
    def __init__(self, sending_id: int, deleted: bool = False) -> None:
        self.sending_id = sending_id
        super().__init__(f"sending {sending_id} was deleted" if deleted else f"no sending {sending_id}")


class MembersFileError(AdminError):
    """The members file is missing, unreadable, or not in the format it is read as."""


class ApiError(AdminError):
    """The API of the stack did not do what the demo asked of it."""
