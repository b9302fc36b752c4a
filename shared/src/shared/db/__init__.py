"""PostgreSQL access: the connection pool and the migration runner."""

from shared.db.migrate import migrate
from shared.db.pool import Conn, HeldConnection, create_pool, init_connection, ping

__all__ = ["Conn", "HeldConnection", "create_pool", "init_connection", "migrate", "ping"]
