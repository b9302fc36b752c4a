"""Standalone templates (spec §2.5): stored per LC, wrapped one level deep; bee templates are the bee_email ones."""

from typing import Annotated, Any

from pydantic import Field

from api import bodies, checks, views
from api.errors import ErrorTree, InvalidParameters, NotAllowedInState, NotFound
from api.repository import templates as repository
from api.repository.rows import TemplateRow
from api.schemas import TEMPLATE_TYPES, Payload, TemplateDefinition, one_of
from shared.db import Conn
from shared.domain import LoyaltyClubId
from shared.formats import iso_ms

# Spec §2.5 "Allowed wrapper types", read as `template type ← the types its wrapper may have`.
WRAPPER_TYPES_BY_TEMPLATE_TYPE = {
    "plain": ("plain", "generic", "email", "bee_email", "push"),
    "generic": ("generic", "email", "bee_email", "push"),
    "email": ("email", "bee_email", "generic"),
    "push": ("push", "generic"),
    "bee_email": ("generic",),
}
TemplateType = Annotated[str, one_of(*TEMPLATE_TYPES)]
Tag = Annotated[str, Field(min_length=1, max_length=100)]
_NOT_NULLABLE = ("name", "type", "content")


class TemplatePayload(Payload):
    name: str = Field(min_length=1)
    type: TemplateType
    content: dict[str, Any]
    wrapper_id: int | None = None
    tags: list[Tag] | None = None


class CreateTemplateRequest(Payload):
    template: TemplatePayload


class TemplateUpdate(Payload):
    """Partial: absent keys are kept; `wrapper_id` or `tags` null clear them; name, type, content cannot be null."""

    name: str | None = Field(default=None, min_length=1)
    type: TemplateType | None = None
    content: dict[str, Any] | None = None
    wrapper_id: int | None = None
    tags: list[Tag] | None = None


class UpdateTemplateRequest(Payload):
    template: TemplateUpdate


def template_view(template: TemplateRow) -> bodies.Template:
    """A template in the spec's shape."""
    return bodies.Template(
        id=template.id,
        name=template.name,
        type=template.type,
        content=template.content,
        wrapper_id=template.wrapper_id,
        created_at=iso_ms(template.created_at),
        updated_at=iso_ms(template.updated_at),
    )


def bee_template_view(template: TemplateRow) -> bodies.BeeTemplate:
    """A bee template: a template with its tags."""
    return bodies.BeeTemplate(**dict(template_view(template)), tags=template.tags)


async def check_wrapper(
    conn: Conn, lc_id: LoyaltyClubId, tree: ErrorTree, path: list[str | int], template_type: str, wrapper_id: int
) -> None:
    """`wrapper_id` (errors at `path`) is a live standalone template of the LC, unwrapped, of a type fit to wrap.

    The wrapper's row is held FOR SHARE: run inside the transaction that stores the wrapped template, and a
    concurrent destroy of the wrapper either waits for it or is seen by it.
    """
    wrapper = await repository.get_template(conn, lc_id, wrapper_id, lock="FOR SHARE")
    if wrapper is None:
        tree.add(path, wrapper_id, "template_does_not_exist", "template does not exist")
    elif wrapper.wrapper_id is not None:
        tree.add(path, wrapper_id, "invalid", "has a wrapper itself; wrapping is one level only")
    elif wrapper.type not in (allowed := WRAPPER_TYPES_BY_TEMPLATE_TYPE.get(template_type, ())):
        message = f"a {wrapper.type} template cannot wrap a {template_type} template"
        tree.add(path, wrapper_id, "wrapper_type_does_not_match", message, {"in": list(allowed)})


def _check_content(tree: ErrorTree, template_type: str, content: dict[str, Any]) -> None:
    """Content keys of the type, presence and Liquid, by the very rules inline channel templates follow."""
    # Presented to a channel its type fits, so only the content rules of check_template_definition can fail.
    channel = next(c for c, types in checks.TEMPLATE_TYPES_BY_CHANNEL.items() if template_type in types)
    checks.check_template_definition(
        tree, ["template"], channel, TemplateDefinition(type=template_type, content=content)
    )


def _check_tags(tree: ErrorTree, template_type: str, tags: list[str]) -> None:
    if tags and template_type != "bee_email":
        tree.add(
            ["template", "tags"],
            tags,
            "attribute_cannot_be_present_with",
            "is only for bee_email templates",
            {"with": "type"},
        )


def _unique(tags: list[str] | None) -> list[str]:
    return list(dict.fromkeys(tags or []))


async def create_template(conn: Conn, lc_id: LoyaltyClubId, payload: TemplatePayload) -> bodies.Template:
    """Store a standalone template after checking its content, tags and wrapper; 422 on any error."""
    tree = ErrorTree()
    fields = {**payload.model_dump(include={"name", "type", "content", "wrapper_id"}), "tags": _unique(payload.tags)}
    _check_content(tree, payload.type, payload.content)
    _check_tags(tree, payload.type, fields["tags"])
    async with conn.transaction():
        if payload.wrapper_id is not None:
            await check_wrapper(conn, lc_id, tree, ["template", "wrapper_id"], payload.type, payload.wrapper_id)
        if tree:
            raise InvalidParameters(tree)
        template_id = await repository.insert_template(conn, lc_id, fields)
    return await show_template(conn, lc_id, template_id)


async def show_template(conn: Conn, lc_id: LoyaltyClubId, template_id: int) -> bodies.Template:
    """A live standalone template of the LC (404 otherwise)."""
    template = await repository.get_template(conn, lc_id, template_id)
    if template is None:
        raise NotFound("Template not found")
    return template_view(template)


def _keep_bee_body(tree: ErrorTree, stored: TemplateRow, fields: dict[str, Any]) -> None:
    """A bee template's body is the HTML export of its bee_json: it changes only together with bee_json."""
    if stored.type != "bee_email" or fields["type"] != "bee_email":
        return
    old, new = stored.content, fields["content"]
    if new.get("bee_json") != old.get("bee_json"):
        return
    if "body" not in new and "body" in old:
        fields["content"] = {**new, "body": old["body"]}
    elif new.get("body") != old.get("body"):
        tree.add(["template", "content", "body"], new.get("body"), "invalid", "is read-only: it changes with bee_json")


def _updated_fields(tree: ErrorTree, stored: TemplateRow, payload: TemplateUpdate) -> dict[str, Any]:
    """The stored template with the given keys applied, and its content and tags checked for its type."""
    given = payload.model_fields_set
    fields = {key: getattr(stored, key) for key in ("name", "type", "content", "wrapper_id", "tags")}
    for key in given:
        value = getattr(payload, key)
        if value is None and key in _NOT_NULLABLE:
            tree.add(["template", key], None, "presence", "must be present")
        else:
            fields[key] = value
    # A template that stops being a bee template drops its tags, unless new ones are given (and refused).
    fields["tags"] = _unique(fields["tags"]) if fields["type"] == "bee_email" or "tags" in given else []
    if given & {"type", "content"}:
        if "content" in given:
            _keep_bee_body(tree, stored, fields)
        _check_content(tree, fields["type"], fields["content"])
    _check_tags(tree, fields["type"], fields["tags"])
    return fields


async def _check_wrapping(
    conn: Conn, lc_id: LoyaltyClubId, tree: ErrorTree, template_id: int, fields: dict[str, Any], given: set[str]
) -> None:
    """One level only, both ways: a wrapper gets no wrapper, and keeps a type its wrapped templates accept."""
    if not given & {"type", "wrapper_id"}:
        return
    wrapped_types = await repository.get_wrapped_types(conn, template_id)
    path: list[str | int] = ["template", "wrapper_id"]
    wrapper_id = fields["wrapper_id"]
    if wrapper_id == template_id:
        tree.add(path, wrapper_id, "invalid", "a template cannot wrap itself")
    elif wrapper_id is not None and wrapped_types:
        tree.add(path, wrapper_id, "invalid", "is not allowed on a wrapper; wrapping is one level only")
    elif wrapper_id is not None:
        await check_wrapper(conn, lc_id, tree, path, fields["type"], wrapper_id)
    refused = [t for t in wrapped_types if fields["type"] not in WRAPPER_TYPES_BY_TEMPLATE_TYPE[t]]
    if refused:
        message = f"a {fields['type']} template cannot wrap the {', '.join(refused)} templates it wraps"
        tree.add(["template", "type"], fields["type"], "wrapper_type_does_not_match", message)


async def update_template(
    conn: Conn, lc_id: LoyaltyClubId, template_id: int, payload: TemplateUpdate
) -> bodies.Template:
    """Apply a partial update under a row lock, so a concurrent wrapping or destroy sees it whole; 422 on error."""
    async with conn.transaction():
        stored = await repository.get_template(conn, lc_id, template_id, lock="FOR UPDATE")
        if stored is None:
            raise NotFound("Template not found")
        tree = ErrorTree()
        fields = _updated_fields(tree, stored, payload)
        await _check_wrapping(conn, lc_id, tree, template_id, fields, payload.model_fields_set)
        if tree:
            raise InvalidParameters(tree)
        await repository.update_template(conn, template_id, fields)
    return await show_template(conn, lc_id, template_id)


async def destroy_template(conn: Conn, lc_id: LoyaltyClubId, template_id: int) -> bodies.Template:
    """Soft-delete a template no live template uses as its wrapper (405 otherwise); returns it."""
    async with conn.transaction():
        if await repository.get_template(conn, lc_id, template_id, lock="FOR UPDATE") is None:
            raise NotFound("Template not found")
        if await repository.get_wrapped_types(conn, template_id):
            raise NotAllowedInState("Template is used as a wrapper and cannot be destroyed")
        deleted = await repository.soft_delete_template(conn, template_id)
    return template_view(deleted)


async def list_templates(
    conn: Conn, lc_id: LoyaltyClubId, filters: dict[str, Any], per_page: int, page_no: int
) -> dict[str, Any]:
    """One page of the LC's standalone templates, filtered by `type` (checked by the route) and `search`."""
    rows, total = await repository.list_templates(conn, lc_id, filters, per_page, (page_no - 1) * per_page)
    return {
        "templates": [template_view(r) for r in rows],
        "pagination_info": views.pagination_info(total, per_page, page_no),
    }


async def list_bee_templates(
    conn: Conn, lc_id: LoyaltyClubId, filters: dict[str, Any], per_page: int, page_no: int
) -> dict[str, Any]:
    """One page of the LC's bee templates, filtered by `tag` and `search`."""
    filters = {**filters, "type": "bee_email"}
    rows, total = await repository.list_templates(conn, lc_id, filters, per_page, (page_no - 1) * per_page)
    return {
        "bee_templates": [bee_template_view(r) for r in rows],
        "pagination_info": views.pagination_info(total, per_page, page_no),
    }


async def show_bee_template(conn: Conn, lc_id: LoyaltyClubId, template_id: int) -> bodies.BeeTemplate:
    """A bee template of the LC (404 for any other template)."""
    template = await repository.get_template(conn, lc_id, template_id)
    if template is None or template.type != "bee_email":
        raise NotFound("Bee template not found")
    return bee_template_view(template)


async def list_bee_tags(conn: Conn, lc_id: LoyaltyClubId) -> list[str]:
    """The LC's bee template tags, distinct and sorted."""
    return sorted(await repository.list_bee_tags(conn, lc_id))
