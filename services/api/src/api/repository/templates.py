"""SQL of the standalone templates (spec §2.5). Records never leave this module."""

from typing import Any, Literal

from api.repository.rows import TemplateRow, columns
from shared.db import Conn
from shared.domain import LoyaltyClubId

_COLUMNS = columns(TemplateRow, "t")
_VISIBLE = "t.loyalty_club_id = $1 AND t.standalone AND t.deleted_at IS NULL"
# A template that still renders: a live standalone one, or the copy of a channel of a live message.
_LIVE = (
    "t.deleted_at IS NULL AND (t.standalone OR EXISTS (SELECT 1 FROM channels c JOIN messages m "
    "ON m.id = c.message_id WHERE c.template_id = t.id AND m.deleted_at IS NULL))"
)
Lock = Literal["", "FOR SHARE", "FOR UPDATE"]


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def get_template(conn: Conn, lc_id: LoyaltyClubId, template_id: int, lock: Lock = "") -> TemplateRow | None:
    """A live standalone template of the LC; `lock` holds its row until the transaction ends."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM templates t WHERE {_VISIBLE} AND t.id = $2 {lock}",  # noqa: S608
        lc_id,
        template_id,
    )
    return TemplateRow.maybe(row)


async def list_templates(
    conn: Conn, lc_id: LoyaltyClubId, filters: dict[str, Any], limit: int, offset: int
) -> tuple[list[TemplateRow], int]:
    """One page of the LC's standalone templates in id order, and the total matching `type`, `tag`, `search`."""
    where = [_VISIBLE]
    args: list[Any] = [lc_id]
    if filters.get("type"):
        args.append(filters["type"])
        where.append(f"t.type = ${len(args)}")
    if filters.get("tag"):
        args.append([filters["tag"]])
        where.append(f"t.tags @> ${len(args)}::text[]")
    if filters.get("search"):
        args.append(_like(filters["search"]))
        n = len(args)
        where.append(
            f"(t.name ILIKE ${n} OR EXISTS (SELECT 1 FROM jsonb_each(t.content) e "  # noqa: S608
            f"WHERE jsonb_typeof(e.value) = 'string' AND e.value #>> '{{}}' ILIKE ${n}))"
        )
    condition = " AND ".join(where)
    total: int = await conn.fetchval(f"SELECT count(*) FROM templates t WHERE {condition}", *args)  # noqa: S608
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM templates t WHERE {condition} ORDER BY t.id "  # noqa: S608
        f"LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}",
        *args,
        limit,
        offset,
    )
    return [TemplateRow.of(r) for r in rows], total


async def insert_template(conn: Conn, lc_id: LoyaltyClubId, fields: dict[str, Any]) -> int:
    """A new standalone template; returns its id."""
    template_id: int = await conn.fetchval(
        "INSERT INTO templates (loyalty_club_id, standalone, name, type, content, wrapper_id, tags) "
        "VALUES ($1, true, $2, $3, $4, $5, $6) RETURNING id",
        lc_id,
        fields["name"],
        fields["type"],
        fields["content"],
        fields["wrapper_id"],
        fields["tags"],
    )
    return template_id


async def update_template(conn: Conn, template_id: int, fields: dict[str, Any]) -> None:
    """Store every editable column of the template and bump `updated_at`."""
    await conn.execute(
        "UPDATE templates SET name = $2, type = $3, content = $4, wrapper_id = $5, tags = $6, updated_at = now() "
        "WHERE id = $1",
        template_id,
        fields["name"],
        fields["type"],
        fields["content"],
        fields["wrapper_id"],
        fields["tags"],
    )


async def soft_delete_template(conn: Conn, template_id: int) -> TemplateRow:
    """Mark the template deleted; returns it as it was stored."""
    row = await conn.fetchrow(
        f"UPDATE templates t SET deleted_at = now() WHERE t.id = $1 RETURNING {_COLUMNS}",  # noqa: S608
        template_id,
    )
    assert row is not None
    return TemplateRow.of(row)


async def get_wrapped_types(conn: Conn, wrapper_id: int) -> list[str]:
    """The distinct types of the live templates (standalone or of live messages) wrapped by this one."""
    rows = await conn.fetch(
        f"SELECT DISTINCT t.type FROM templates t WHERE t.wrapper_id = $1 AND {_LIVE} ORDER BY 1",  # noqa: S608
        wrapper_id,
    )
    return [r["type"] for r in rows]


async def list_bee_tags(conn: Conn, lc_id: LoyaltyClubId) -> list[str]:
    """Every tag of the LC's live bee templates, once each, sorted."""
    rows = await conn.fetch(
        f"SELECT DISTINCT tag FROM templates t, unnest(t.tags) AS tag WHERE {_VISIBLE} AND t.type = 'bee_email' "  # noqa: S608
        "ORDER BY tag",
        lc_id,
    )
    return [r["tag"] for r in rows]
