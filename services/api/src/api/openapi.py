"""The served OpenAPI document: every response body and error status of every endpoint, described.

Routes return orjson responses built from dicts (fast, and exactly the spec's shapes), so their bodies
are described here once, by path and method, and every `/v1` operation gets the error statuses of
spec §1.3 instead of FastAPI's default 422.
"""

from typing import Annotated, Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import models_json_schema

from api.openapi_contract import describe_components, describe_request
from api.permits import SERVICES
from api.schemas import CHANNEL_TYPES, TEMPLATE_TYPES, one_of
from shared.domain import DeliveryStatus, SendingStatus, TransmissionStatus

Timestamp = str  # ISO 8601 UTC with milliseconds and Z
TemplateType = Annotated[str, one_of(*TEMPLATE_TYPES)]
ChannelType = Annotated[str, one_of(*CHANNEL_TYPES)]
SendingStatusName = Annotated[str, one_of(*SendingStatus)]


class Body(BaseModel):
    model_config = ConfigDict(extra="allow")


class Error(Body):
    error: str


class ErrorDetail(Body):
    value: Any = None
    error: str
    options: dict[str, Any]
    message: str


class InvalidParameters(Body):
    error: str
    details: dict[str, Any]


class NotReady(Body):
    error: str
    waiting_for: list[str] | None = None


class Status(Body):
    status: str


class PaginationInfo(Body):
    total_count: int
    per_page: int
    total_pages: int
    current_page: int
    next_page: int | None
    prev_page: int | None
    is_first_page: bool
    is_last_page: bool
    is_out_of_range: bool


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


class Stats(Body):
    planned: int
    prepared: int
    suppressed: int
    unreachable: int
    pending: int
    transmitted: int
    failed: int
    delivered: int
    delivery_failed: int
    delivery_pending: int


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
    member_id: int | None
    sending_id: int
    message_id: int
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


M = "/v1/messages"
S = f"{M}/{{service_name}}"
# (method, path) → (success status, body model)
SUCCESS: dict[tuple[str, str], tuple[int, type[BaseModel]]] = {
    ("get", "/healthz"): (200, Status),
    ("get", "/readyz"): (200, Status),
    ("get", "/readyz/pipeline"): (200, Status),
    ("post", S): (201, MessageEnvelope),
    ("get", S): (200, MessageList),
    ("get", f"{S}/overview"): (200, OverviewEnvelope),
    ("get", f"{S}/{{message_id}}"): (200, MessageEnvelope),
    ("put", f"{S}/{{message_id}}"): (200, MessageEnvelope),
    ("put", f"{S}/{{message_id}}/duplicate"): (201, MessageEnvelope),
    ("delete", f"{S}/{{message_id}}"): (200, MessageEnvelope),
    ("get", f"{S}/{{message_id}}/sendings"): (200, SendingList),
    ("post", f"{S}/{{message_id}}/sendings"): (201, SendingEnvelope),
    ("post", f"{S}/{{message_id}}/sendings/preview"): (200, PreviewEnvelope),
    ("get", f"{S}/sendings/{{sending_id}}"): (200, SendingEnvelope),
    ("put", f"{S}/sendings/{{sending_id}}"): (200, SendingEnvelope),
    ("put", f"{S}/sendings/{{sending_id}}/cancel"): (200, SendingEnvelope),
    ("get", f"{S}/sendings/{{sending_id}}/dispatches"): (200, DispatchList),
    ("get", f"{S}/sendings/{{sending_id}}/dispatches/members"): (200, DispatchMemberList),
    ("post", f"{M}/bulks"): (200, BulkResults),
    ("get", f"{M}/templates"): (200, TemplateList),
    ("post", f"{M}/templates"): (201, TemplateEnvelope),
    ("get", f"{M}/templates/{{template_id}}"): (200, TemplateEnvelope),
    ("put", f"{M}/templates/{{template_id}}"): (200, TemplateEnvelope),
    ("delete", f"{M}/templates/{{template_id}}"): (200, TemplateEnvelope),
    ("get", f"{M}/bee_templates"): (200, BeeTemplateList),
    ("get", f"{M}/bee_templates/tags"): (200, TagList),
    ("get", f"{M}/bee_templates/{{template_id}}"): (200, BeeTemplateEnvelope),
    ("get", f"{M}/services"): (200, ServiceList),
    ("get", f"{M}/merge_properties"): (200, MergePropertyList),
    ("get", f"{M}/settings"): (200, SettingsEnvelope),
    ("get", "/v1/messages_history"): (200, History),
    ("get", f"{M}/sender_identities"): (200, SenderIdentityList),
    ("post", f"{M}/sender_identities"): (201, SenderIdentityEnvelope),
    ("delete", f"{M}/sender_identities/{{identity_id}}"): (200, SenderIdentityEnvelope),
    ("get", "/v1/audiences"): (200, AudienceList),
    ("post", "/v1/audiences"): (201, AudienceEnvelope),
    ("get", "/v1/audiences/{audience_id}"): (200, AudienceEnvelope),
    ("put", "/v1/audiences/{audience_id}"): (200, AudienceEnvelope),
    ("delete", "/v1/audiences/{audience_id}"): (200, AudienceEnvelope),
}
ERRORS: dict[int, tuple[str, type[BaseModel] | None]] = {
    400: ("Body is not valid JSON (empty body)", None),
    401: ("Missing, unknown or revoked token, or not valid for this LC", Error),
    403: ("Token lacks the endpoint's permit", Error),
    404: ("Not found in this LC and service", Error),
    405: ("Not allowed in the resource's state, or method not allowed", Error),
    409: ("A request with this Idempotency-Key is still running", Error),
    413: ("Body larger than the configured limit", Error),
    415: ("Body that is not JSON", Error),
    422: ("Invalid parameters: `details` mirrors the payload", InvalidParameters),
    429: ("Rate limit of the LC exceeded; see Retry-After", Error),
    470: ("Missing tenant header (or, for bulks, a failed operation with the results so far)", Error),
    471: ("Invalid tenant header value", Error),
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model: type[BaseModel] | None, description: str) -> dict[str, Any]:
    if model is None:
        return {"description": description}
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _describe(operation: dict[str, Any], method: str, path: str) -> None:
    responses: dict[str, Any] = {}
    if (method, path) in SUCCESS:
        status, success = SUCCESS[(method, path)]
        responses[str(status)] = _json(success, "Success")
    if path == "/s/{code}":
        location = {"Location": {"schema": {"type": "string"}}}
        responses["302"] = {"description": "Redirect to the link's URL", "headers": location}
        responses["404"] = _json(Error, "No such link")
    if path == "/readyz":
        responses["503"] = _json(NotReady, "The database or the broker is not ready")
    if path == "/readyz/pipeline":
        responses["503"] = _json(NotReady, "A service of the pipeline has no ready instance")
    if path.startswith("/v1/"):
        for code, (description, model) in ERRORS.items():
            responses[str(code)] = _json(model, description)
        if path.endswith("/bulks"):
            responses["470"]["content"]["application/json"]["schema"] = {"anyOf": [_ref(Error), _ref(BulkResults)]}
    operation["responses"] = responses or operation["responses"]
    operation.setdefault("parameters", [])
    if path.startswith("/v1/"):
        describe_request(operation, method, path)


def install_openapi(app: FastAPI) -> None:
    """Replace the app's OpenAPI generator with one that describes every answer."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        models: list[type[BaseModel]] = [m for _, m in SUCCESS.values()] + [NotReady]
        models += [m for _, m in ERRORS.values() if m is not None]
        _, definitions = models_json_schema(
            [(m, "serialization") for m in models], ref_template="#/components/schemas/{model}"
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(definitions.get("$defs", {}))
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        describe_components(schema)
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                _describe(operation, method, path)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
