"""Reading a topic the way an outside consumer would, to check what the services published: its end offsets
now, and the events written after them."""

from __future__ import annotations

from typing import TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.events import Event

E = TypeVar("E", bound=Event)


async def end_offsets(kafka: str, topic: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def records_since(kafka: str, since: dict[TopicPartition, int]) -> list[tuple[bytes | None, bytes]]:
    """(key, value) of every record written after `since`, each partition in its order."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(since))
        for partition, offset in since.items():
            consumer.seek(partition, offset)
        found: list[tuple[bytes | None, bytes]] = []
        while batches := await consumer.getmany(timeout_ms=500):
            for records in batches.values():
                found += [(r.key, r.value or b"") for r in records]
        return found
    finally:
        await consumer.stop()


async def published_since(
    kafka: str, since: dict[TopicPartition, int], event_type: type[E]
) -> list[tuple[bytes | None, E]]:
    """(key, event) of every event written after `since`, each partition in its order."""
    return [(key, event_type.from_bytes(value)) for key, value in await records_since(kafka, since)]
