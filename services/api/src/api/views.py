"""The API's answers: the body models of api/bodies/ (the one declaration of each shape, also the OpenAPI
document's), filled from repository rows (api/repository/rows.py) with the spec's formats. Built with their
constructors, so a field a body does not declare, or a value of the wrong type, fails at once (and in mypy)."""

from typing import Any

from api import bodies
from api.repository.rows import (
    ChannelRow,
    DispatchRow,
    MessageRow,
    SendingMemberRow,
    SendingRow,
    SendingsSummary,
)
from shared.domain import FINAL_SENDING_STATUSES, ChannelType
from shared.formats import iso_ms
from shared.ledger import Stats


def aggregated_sendings_status(statuses: list[str]) -> str:
    """No sendings or all drafts ⇒ draft; all final ⇒ finished; otherwise scheduled (spec §2.1)."""
    if all(s == "draft" for s in statuses):
        return "draft"
    if all(s in FINAL_SENDING_STATUSES for s in statuses):
        return "finished"
    return "scheduled"


def channel_view(channel: ChannelRow) -> bodies.Channel:
    template = bodies.ChannelTemplate(
        id=channel.template_id,
        wrapper_id=channel.wrapper_id,
        type=channel.template_type,
        content=channel.content,
        created_at=iso_ms(channel.template_created_at),
        updated_at=iso_ms(channel.template_updated_at),
    )
    created_at, updated_at = iso_ms(channel.created_at), iso_ms(channel.updated_at)
    if channel.type == ChannelType.SMS:
        return bodies.Channel(
            id=channel.id, type=channel.type, sender=channel.sender, template=template,
            created_at=created_at, updated_at=updated_at,
        )  # fmt: skip
    if channel.type == ChannelType.EMAIL:
        return bodies.Channel(
            id=channel.id, type=channel.type, from_email=channel.from_email, from_name=channel.from_name,
            template=template, created_at=created_at, updated_at=updated_at,
        )  # fmt: skip
    return bodies.Channel(
        id=channel.id, type=channel.type, template=template, created_at=created_at, updated_at=updated_at
    )


def message_sending_view(sending: SendingRow) -> bodies.MessageSending:
    """The short form of a sending inside a message (`latest_sending`)."""
    return bodies.MessageSending(
        id=sending.id,
        audience_id=sending.audience_id,
        status=sending.status,
        scheduled_at=iso_ms(sending.scheduled_at),
        created_at=iso_ms(sending.created_at),
        transmitted_at=iso_ms(sending.transmitted_at),
        updated_at=iso_ms(sending.updated_at),
        recipients_count=sending.recipients_count,
        dispatches_count=sending.dispatches_count,
        members_count=sending.members_count,
    )


def message_view(message: MessageRow, channels: list[ChannelRow], summary: SendingsSummary) -> bodies.Message:
    latest = summary.latest
    return bodies.Message(
        id=message.id,
        name=message.name,
        service=message.service,
        shorten_urls=message.shorten_urls,
        track_in_shortener=message.track_in_shortener,
        campaign_id=message.campaign_id,
        marketing=message.marketing,
        channels=[channel_view(c) for c in channels],
        sendings_status=aggregated_sendings_status(summary.statuses),
        sendings_count=len(summary.statuses),
        latest_sending=message_sending_view(latest) if latest else None,
        created_at=iso_ms(message.created_at),
        updated_at=iso_ms(message.updated_at),
    )


def sending_view(sending: SendingRow, recipients: list[dict[str, Any]], stats: Stats) -> bodies.Sending:
    return bodies.Sending(
        id=sending.id,
        message_id=sending.message_id,
        audience_id=sending.audience_id,
        status=sending.status,
        draft=sending.draft,
        priority=sending.priority,
        channels_preference=sending.channels_preference,
        properties=sending.properties,
        scheduled_at=iso_ms(sending.scheduled_at),
        scheduled_with=sending.scheduled_with,
        prescheduled=sending.prescheduled,
        recipients=recipients,
        recipients_count=sending.recipients_count,
        members_count=sending.members_count,
        dispatches_count=sending.dispatches_count,
        stats=stats,
        transmitted_at=iso_ms(sending.transmitted_at),
        created_at=iso_ms(sending.created_at),
        updated_at=iso_ms(sending.updated_at),
    )


def dispatch_view(dispatch: DispatchRow) -> bodies.Dispatch:
    return bodies.Dispatch(
        id=dispatch.id,
        sending_id=dispatch.sending_id,
        type=dispatch.type,
        content=dispatch.content,
        member_id=dispatch.member_id,
        msisdn=dispatch.msisdn,
        email=dispatch.email,
        app_token=dispatch.app_token,
        transmission_status=dispatch.transmission_status,
        delivery_status=dispatch.delivery_status,
        external_delivery_status=dispatch.external_delivery_status,
        error=dispatch.error,
        created_at=iso_ms(dispatch.created_at),
        updated_at=iso_ms(dispatch.updated_at),
        scheduled_at=iso_ms(dispatch.scheduled_at),
        transmitted_at=iso_ms(dispatch.transmitted_at),
        delivered_at=iso_ms(dispatch.delivered_at),
        cleaned_at=iso_ms(dispatch.cleaned_at),
    )


def sending_member_view(member: SendingMemberRow) -> bodies.DispatchMember:
    return bodies.DispatchMember(
        id=member.id, type=member.type, msisdn=member.msisdn, email=member.email, app_tokens=member.app_tokens
    )


def pagination_info(total: int, per_page: int, page_no: int) -> bodies.PaginationInfo:
    total_pages = (total + per_page - 1) // per_page
    return bodies.PaginationInfo(
        total_count=total,
        per_page=per_page,
        total_pages=total_pages,
        current_page=page_no,
        next_page=page_no + 1 if page_no < total_pages else None,
        prev_page=page_no - 1 if 1 < page_no <= total_pages + 1 else None,
        is_first_page=page_no == 1,
        is_last_page=page_no == total_pages,
        is_out_of_range=page_no > total_pages,
    )
