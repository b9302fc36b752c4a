"""Audiences [ext]: named sets of members by the condition grammar of spec §3.2."""

from typing import Any

from api import bodies, views
from api.conditions import check_conditions
from api.errors import ErrorTree, InvalidParameters, NotAllowedInState, NotFound
from api.repository import audiences as repository
from api.repository.rows import AudienceRow
from api.schemas import AudienceBody
from api.tokens import Caller
from shared.db import Conn
from shared.formats import iso_ms


def audience_view(row: AudienceRow) -> bodies.Audience:
    return bodies.Audience(
        id=row.id, name=row.name, conditions=row.conditions, inline=row.inline,
        created_at=iso_ms(row.created_at), updated_at=iso_ms(row.updated_at),
    )  # fmt: skip


def _check(body: AudienceBody, current: AudienceRow | None) -> tuple[str, list[Any]]:
    """The name and conditions to store (left-out ones kept when updating); 422 on any error."""
    tree = ErrorTree()
    given = body.model_fields_set
    name = body.name if "name" in given or current is None else current.name
    conditions = body.conditions if "conditions" in given or current is None else current.conditions
    if not name:
        tree.add(["audience", "name"], name, "presence", "must be present")
    check_conditions(tree, ["audience", "conditions"], conditions)
    if tree:
        raise InvalidParameters(tree)
    assert name is not None
    assert conditions is not None
    return name, conditions


async def _audience_or_404(conn: Conn, caller: Caller, audience_id: int, lock: bool = False) -> AudienceRow:
    audience = await repository.get_audience(conn, caller.lc_id, audience_id, lock)
    if audience is None:
        raise NotFound("Audience not found")
    return audience


async def list_audiences(conn: Conn, caller: Caller, per_page: int, page_no: int) -> dict[str, Any]:
    rows, total = await repository.list_audiences(conn, caller.lc_id, per_page, (page_no - 1) * per_page)
    return {
        "audiences": [audience_view(r) for r in rows],
        "pagination_info": views.pagination_info(total, per_page, page_no),
    }


async def create_audience(conn: Conn, caller: Caller, body: AudienceBody) -> bodies.Audience:
    name, conditions = _check(body, None)
    return await show_audience(conn, caller, await repository.insert_audience(conn, caller.lc_id, name, conditions))


async def show_audience(conn: Conn, caller: Caller, audience_id: int) -> bodies.Audience:
    return audience_view(await _audience_or_404(conn, caller, audience_id))


async def update_audience(conn: Conn, caller: Caller, audience_id: int, body: AudienceBody) -> bodies.Audience:
    async with conn.transaction():
        current = await _audience_or_404(conn, caller, audience_id, lock=True)
        name, conditions = _check(body, current)
        await repository.update_audience(conn, audience_id, name, conditions)
    return await show_audience(conn, caller, audience_id)


async def delete_audience(conn: Conn, caller: Caller, audience_id: int) -> bodies.Audience:
    """Soft delete; 405 while a sending that may still run needs it."""
    async with conn.transaction():
        current = await _audience_or_404(conn, caller, audience_id, lock=True)
        if await repository.audience_in_use(conn, audience_id):
            raise NotAllowedInState("The audience is used by a sending that has not finished")
        await repository.soft_delete_audience(conn, audience_id)
    return audience_view(current)
