"""Inbound events of the member service, which owns members; we keep a read model of them.

Unlike our own events these carry the member's data: the owning service publishes it, and the read
model is where it can be wiped (a delete wipes the member's dispatches too).
"""

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import Field

from shared.events.base import Event
from shared.events.topics import MEMBER_DELETED, MEMBER_UPSERTED


class MemberUpserted(Event):
    """A member was created or changed (key: member id). An upsert older than what we hold is ignored."""

    topic: ClassVar[str] = MEMBER_UPSERTED
    type: Literal["member.upserted"] = "member.upserted"
    loyalty_club: str = Field(description="the LC's slug")
    member_id: int
    secret_id: str | None = None
    msisdn: str | None = None
    email: str | None = None
    app_token: str | None = None
    app_platform: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    consents: dict[str, Any] = Field(default_factory=dict)
    sms_status: str = "enabled"
    email_status: str = "enabled"
    push_status: str = "enabled"
    updated_at: datetime

    def key(self) -> str:
        return str(self.member_id)


class MemberDeleted(Event):
    """A member was deleted (key: member id): its data and its dispatches' identifiers and content go."""

    topic: ClassVar[str] = MEMBER_DELETED
    type: Literal["member.deleted"] = "member.deleted"
    loyalty_club: str
    member_id: int
    deleted_at: datetime

    def key(self) -> str:
        return str(self.member_id)
