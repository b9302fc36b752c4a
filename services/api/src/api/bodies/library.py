"""Response bodies of what an LC keeps besides its messages: templates, settings, history, sender identities
and audiences."""

from typing import Any

from api.bodies.base import Body, PaginationInfo, TemplateType, Timestamp


class Template(Body):
    id: int
    name: str | None
    type: TemplateType
    content: dict[str, Any]
    wrapper_id: int | None
    created_at: Timestamp
    updated_at: Timestamp


class BeeTemplate(Template):
    tags: list[str]


class TemplateEnvelope(Body):
    template: Template


class TemplateList(Body):
    templates: list[Template]
    pagination_info: PaginationInfo


class BeeTemplateEnvelope(Body):
    bee_template: BeeTemplate


class BeeTemplateList(Body):
    bee_templates: list[BeeTemplate]
    pagination_info: PaginationInfo


class TagList(Body):
    tags: list[str]


class ServiceList(Body):
    services: list[dict[str, Any]]


class MergePropertyList(Body):
    merge_properties: list[dict[str, Any]]


class SettingsEnvelope(Body):
    settings: dict[str, Any]


class HistoryItem(Body):
    id: int
    type: str
    created_at: Timestamp
    content: str | None
    subject: str | None
    sender: str | None
    msisdn: str | None
    email: str | None
    from_name: str | None
    from_address: str | None
    url: str | None
    image: str | None
    data: Any
    app_token: str | None
    message_id: int
    sending_id: int
    member_id: int | None
    transmitted_at: Timestamp | None
    delivery_status: str


class History(Body):
    messages: list[HistoryItem]
    pagination_info: PaginationInfo


class SenderIdentity(Body):
    id: int
    type: str
    value: str
    created_at: Timestamp


class SenderIdentityEnvelope(Body):
    sender_identity: SenderIdentity


class SenderIdentityList(Body):
    sender_identities: list[SenderIdentity]
    pagination_info: PaginationInfo


class Audience(Body):
    id: int
    name: str | None
    conditions: list[Any]
    inline: bool
    created_at: Timestamp
    updated_at: Timestamp


class AudienceEnvelope(Body):
    audience: Audience


class AudienceList(Body):
    audiences: list[Audience]
    pagination_info: PaginationInfo
