"""Response bodies of messages, their sendings and dispatches, previews and bulks."""

from typing import Annotated, Any

from api.bodies.base import Body, ChannelType, PaginationInfo, SendingStatusName, TemplateType, Timestamp
from api.permits import SERVICES
from api.schemas import one_of
from shared.domain import DeliveryStatus, TransmissionStatus
from shared.ledger import Stats


class ChannelTemplate(Body):
    id: int
    wrapper_id: int | None
    type: TemplateType
    content: dict[str, Any]
    created_at: Timestamp
    updated_at: Timestamp


class Channel(Body):
    id: int
    type: ChannelType
    sender: dict[str, Any] | None = None
    from_email: str | None = None
    from_name: str | None = None
    template: ChannelTemplate
    created_at: Timestamp
    updated_at: Timestamp


class MessageSending(Body):
    id: int
    audience_id: int | None
    status: SendingStatusName
    scheduled_at: Timestamp | None
    created_at: Timestamp
    transmitted_at: Timestamp | None
    updated_at: Timestamp
    recipients_count: int
    dispatches_count: int | None
    members_count: int | None


class Message(Body):
    id: int
    name: str
    service: Annotated[str, one_of(*SERVICES)]
    shorten_urls: bool
    track_in_shortener: bool
    campaign_id: int | None
    marketing: bool | None
    channels: list[Channel]
    sendings_status: Annotated[str, one_of("draft", "scheduled", "finished")]
    sendings_count: int
    latest_sending: MessageSending | None
    created_at: Timestamp
    updated_at: Timestamp


class Recipient(Body):
    member_id: int | None
    msisdn: str | None
    email: str | None
    app_token: str | None
    properties: dict[str, Any]


class Sending(MessageSending):
    message_id: int
    draft: bool
    priority: int | None
    channels_preference: list[str] | None
    properties: dict[str, Any]
    scheduled_with: dict[str, Any] | None
    prescheduled: bool
    recipients: list[Recipient]
    stats: Stats


class Dispatch(Body):
    id: int
    sending_id: int
    type: ChannelType
    content: dict[str, Any] | None
    member_id: int | None
    msisdn: str | None
    email: str | None
    app_token: str | None
    transmission_status: Annotated[str, one_of(*TransmissionStatus)]
    delivery_status: Annotated[str, one_of(*DeliveryStatus)]
    external_delivery_status: str | None
    error: str | None
    created_at: Timestamp
    updated_at: Timestamp
    scheduled_at: Timestamp | None
    transmitted_at: Timestamp | None
    delivered_at: Timestamp | None
    cleaned_at: Timestamp | None


class DispatchMember(Body):
    id: int
    type: str
    msisdn: str | None
    email: str | None
    app_tokens: list[str]


class MessageEnvelope(Body):
    message: Message


class MessageList(Body):
    messages: list[Message]
    pagination_info: PaginationInfo


class OverviewEnvelope(Body):
    overview: dict[str, Any]


class PreviewChannel(Body):
    dispatches: int
    suppressed: int


class PreviewSample(Body):
    type: str
    member_id: int | None
    msisdn: str | None
    email: str | None
    app_token: str | None
    content: dict[str, Any] | None
    error: str | None


class SendingPreview(Body):
    recipients: int
    dispatches: int
    suppressed: int
    unreachable: int
    channels: dict[str, PreviewChannel]
    samples: list[PreviewSample]
    estimated_duration_seconds: float


class PreviewEnvelope(Body):
    preview: SendingPreview


class SendingEnvelope(Body):
    sending: Sending


class SendingList(Body):
    sendings: list[Sending]
    pagination_info: PaginationInfo


class DispatchList(Body):
    dispatches: list[Dispatch]
    pagination_info: PaginationInfo


class DispatchMemberList(Body):
    dispatch_members: list[DispatchMember]
    pagination_info: PaginationInfo


class BulkResults(Body):
    results: list[dict[str, Any]]
