"""What the integration tests share beyond tests/conftest.py: a started broker on the session's Kafka."""

from collections.abc import AsyncIterator

import pytest
from faststream.kafka import KafkaBroker

from shared.events.topics import ensure_topics


@pytest.fixture
async def broker(kafka_bootstrap: str) -> AsyncIterator[KafkaBroker]:
    """A plain broker, started, with every topic of the catalogue present (3 partitions each)."""
    await ensure_topics(kafka_bootstrap, partitions=3)
    broker = KafkaBroker(kafka_bootstrap)
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()
