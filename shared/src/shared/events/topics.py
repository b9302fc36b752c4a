"""Topic names, and the creation of topics at start-up with configured partition counts."""

import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

SENDING_SCHEDULED = "sending.scheduled"
PREPARATION_RANGE = "preparation.range"
DISPATCHES_PREPARED = "dispatches.prepared"
DISPATCH_TRANSMITTED = "dispatch.transmitted"
DELIVERY_STATUS = "delivery.status"
MEMBER_UPSERTED = "member.upserted"
MEMBER_DELETED = "member.deleted"
SENDING_STATUS = "sending.status"
SENDING_REQUESTED = "sending.requested"
SENDING_REJECTED = "sending.rejected"

ALL_TOPICS = (
    SENDING_SCHEDULED, PREPARATION_RANGE, DISPATCHES_PREPARED, DISPATCH_TRANSMITTED, DELIVERY_STATUS,
    MEMBER_UPSERTED, MEMBER_DELETED, SENDING_STATUS, SENDING_REQUESTED, SENDING_REJECTED,
)  # fmt: skip


def dead_letter_topic(topic: str) -> str:
    """Where messages of `topic` go when they fail permanently."""
    return f"{topic}.dlq"


def required_topics() -> list[str]:
    """Every topic and its dead-letter topic."""
    return [*ALL_TOPICS, *(dead_letter_topic(t) for t in ALL_TOPICS)]


async def missing_topics(bootstrap_servers: str) -> set[str]:
    """The required topics the broker does not have (it restarted empty, or one was deleted)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        return set(required_topics()) - set(await admin.list_topics())
    finally:
        await admin.close()


async def ensure_topics(bootstrap_servers: str, partitions: int, replication_factor: int = 1) -> None:
    """Create every topic and its dead-letter topic unless it exists (never relies on auto-creation)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        names = required_topics()
        existing = set(await admin.list_topics())
        wanted = [NewTopic(n, partitions, replication_factor) for n in names if n not in existing]
        if wanted:
            # Another service may create the same topic between the listing and this call.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(wanted)
    finally:
        await admin.close()
