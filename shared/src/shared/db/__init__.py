"""PostgreSQL access: the connection pool and the migration runner."""

from shared.db.migrate import migrate
from shared.db.pool import Conn, create_pool, init_connection

__all__ = ["Conn", "create_pool", "init_connection", "migrate"]
