"""SQL of the sandbox provider: its own log of the messages it took, `sandbox_messages`."""

import asyncpg

from transmitter.providers.base import Outgoing


async def record_message(pool: asyncpg.Pool, message_id: str, message: Outgoing) -> None:
    """The sandbox took the message: in its log, as a real provider's own records would have it."""
    await pool.execute(
        "INSERT INTO sandbox_messages (provider_message_id, dispatch_id, channel, recipient, content) "
        "VALUES ($1, $2, $3, $4, $5)",
        message_id,
        message.dispatch_id,
        message.channel,
        message.recipient,
        message.content,
    )
