"""SQL of short links (`shorten_urls`): the preparer writes them, the api follows them."""

from shared.db import Conn


async def follow(conn: Conn, code: str) -> str | None:
    """The link's URL, counting the click when the link was made per recipient; None when unknown."""
    url: str | None = await conn.fetchval(
        "WITH link AS (SELECT url, dispatch_key FROM short_links WHERE code = $1), "
        "counted AS (UPDATE short_links SET clicks = clicks + 1, last_clicked_at = now() "
        "            WHERE code = $1 AND dispatch_key IS NOT NULL) "
        "SELECT url FROM link",
        code,
    )
    return url
