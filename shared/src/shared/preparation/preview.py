"""Preview of a sending (spec §2.2, endpoint 15): what preparing it would give, stored nowhere.

It runs the preparation's own planning over the same reads, so its counts are what preparation would
write at this moment; only the first few dispatches are rendered, as samples.
"""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from shared.config import ServiceSettings
from shared.db import Conn
from shared.domain import INT64_MAX, INT64_MIN, SendingId
from shared.preparation import repository
from shared.preparation.planning import Plan, Recipient, plan_dispatches
from shared.preparation.shortener import Shortener

SAMPLES = 3
CHUNK_SIZE = 5000


SAMPLE_FIELDS = ("type", "member_id", "msisdn", "email", "app_token", "content", "error")


@dataclass
class Preview:
    recipients: int = 0
    unreachable: int = 0
    dispatches: Counter[str] = field(default_factory=Counter)
    suppressed: Counter[str] = field(default_factory=Counter)
    samples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, plan: Plan, recipients: int) -> None:
        self.recipients += recipients
        self.unreachable += plan.unreachable
        self.suppressed.update(plan.suppressed_by_channel)
        self.dispatches.update(r.type for r in plan.rows)
        for row in plan.rows[: SAMPLES - len(self.samples)]:
            sample = {
                k: getattr(row, k) for k in ("type", "member_id", "msisdn", "email", "app_token", "content", "error")
            }
            self.samples.append(sample)

    def view(self, channel_types: list[str], settings: ServiceSettings) -> dict[str, Any]:
        per_channel = {t: {"dispatches": self.dispatches[t], "suppressed": self.suppressed[t]} for t in channel_types}
        # Channels go out through their own providers at once: the slowest one sets the duration.
        seconds = max((self.dispatches[t] / settings.rate_limit(t) for t in channel_types), default=0.0)
        return {
            "recipients": self.recipients,
            "dispatches": sum(self.dispatches.values()),
            "suppressed": sum(self.suppressed.values()),
            "unreachable": self.unreachable,
            "channels": per_channel,
            "samples": self.samples,
            "estimated_duration_seconds": round(seconds, 3),
        }


async def preview_sending(conn: Conn, sending_id: SendingId, settings: ServiceSettings) -> dict[str, Any]:
    """Plan a sending stored in the caller's (uncommitted) transaction: counts per channel and samples."""
    sending = await repository.get_sending_to_prepare(conn, sending_id)
    assert sending is not None
    channels = await repository.load_channels(conn, sending.message_id)
    shortener = None
    if sending.shorten_urls:
        shortener = Shortener(sending_id, settings.short_link_base_url.rstrip("/"), sending.track_in_shortener)
    preview = Preview()
    recipients = await repository.load_inline_recipients(conn, sending.loyalty_club_id, sending_id)
    preview.add(plan_dispatches(sending, channels, recipients, shortener, SAMPLES), len(recipients))
    if sending.audience_conditions is not None:
        inline_members = {r.member_id for r in recipients if r.member_id is not None}
        chunks = repository.stream_audience(
            conn, sending.loyalty_club_id, sending.audience_conditions, INT64_MIN, INT64_MAX, CHUNK_SIZE,
            snapshot=False,
        )  # fmt: skip
        async for chunk in chunks:
            audience = [Recipient(properties={}, member_id=m["id"], member=m) for m in chunk
                        if m["id"] not in inline_members]  # fmt: skip
            render_limit = SAMPLES - len(preview.samples)
            preview.add(plan_dispatches(sending, channels, audience, shortener, render_limit), len(audience))
    return preview.view([c.type for c in channels], settings)
