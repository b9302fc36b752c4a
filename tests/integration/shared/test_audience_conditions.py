"""Every operator of the condition grammar, compiled to SQL and run on real PostgreSQL, agrees with Python."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from tests.audience_oracle import evaluate

from shared.preparation.audience import compile_conditions

MEMBERS: list[dict[str, Any]] = [
    {"id": 1, "msisdn": "4740769126", "email": "piotr@example.com", "sms_status": "enabled",
     "properties": {"first_name": "Piotr", "city": "Oslo", "age": 41, "birthday": "1985-03-02", "vip": True,
                    "tags": ["golf", "wine"], "address": {"zip": "0150", "country": "NO"}},
     "consents": {"sms_marketing": {"status": True}}},
    {"id": 2, "msisdn": "4790000001", "email": None, "sms_status": "disabled",
     "properties": {"first_name": "kari", "city": "Bergen", "age": 29.5, "birthday": "1996-11-30", "vip": False,
                    "tags": ["wine"], "address": {"zip": "5003", "country": "NO"}},
     "consents": {"sms_marketing": {"status": False}}},
    {"id": 3, "msisdn": None, "email": "ola@example.se", "sms_status": "enabled",
     "properties": {"first_name": "Ola", "city": "Stockholm", "age": "41", "tags": "golf",
                    "address": {"zip": None, "country": "SE"}, "nickname": None},
     "consents": {}},
    {"id": 4, "msisdn": None, "email": None, "sms_status": "hard_bounced", "properties": {}, "consents": {}},
]  # fmt: skip


def prop(field: str, operator: str, value: Any = None) -> dict[str, Any]:
    condition = {"condition_group": "member_properties", "field": field, "operator": operator}
    return condition if operator in ("exists", "not_exists") else {**condition, "value": value}


def member(field: str, operator: str, value: Any = None) -> dict[str, Any]:
    return {**prop(field, operator, value), "condition_group": "member"}


CASES: list[tuple[str, list[dict[str, Any]]]] = [
    ("match ignores case", [prop("first_name", "match", "KARI")]),
    ("match a number", [prop("age", "match", 41)]),
    ("match a boolean", [prop("vip", "match", True)]),
    ("match a dotted path", [prop("address.country", "match", "no")]),
    ("not_match keeps missing fields", [prop("city", "not_match", "oslo")]),
    ("contains", [prop("city", "contains", "ER")]),
    ("contains in a dotted path", [prop("address.zip", "contains", "01")]),
    ("starts_with", [prop("first_name", "starts_with", "p")]),
    ("in", [prop("city", "in", ["Bergen", "stockholm", "Paris"])]),
    ("in with numbers", [prop("age", "in", [29.5, 100])]),
    ("any of an array", [{**prop("tags", "any", ["golf", "tennis"]), "type": "array"}]),
    ("all of an array", [{**prop("tags", "all", ["golf", "wine"]), "type": "array"}]),
    ("gt a number", [prop("age", "gt", 30)]),
    ("gte a number", [prop("age", "gte", 41)]),
    ("lt a number", [prop("age", "lt", 41)]),
    ("lte a date", [prop("birthday", "lte", "1990-01-01")]),
    ("gt a date", [prop("birthday", "gt", "1990-01-01")]),
    ("exists", [prop("address.zip", "exists")]),
    ("not_exists includes null", [prop("address.zip", "not_exists")]),
    ("member column", [member("sms_status", "match", "enabled")]),
    ("member id", [member("id", "in", [2, 4])]),
    ("member email exists", [member("email", "exists")]),
    ("member consent", [member("consents.sms_marketing", "match", True)]),
    ("all conditions hold", [prop("city", "exists"), member("sms_status", "match", "enabled")]),
    ("or group", [{"operator": "or", "conditions": [prop("city", "match", "Oslo"), prop("age", "lt", 30)]}]),
    ("nested or", [{"operator": "or", "conditions": [
        {"operator": "or", "conditions": [member("id", "match", 4)]}, prop("tags", "any", ["golf"])]}]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "conditions"), CASES, ids=[name for name, _ in CASES])
async def test_a_compiled_condition_selects_exactly_the_members_python_selects(
    db: asyncpg.Pool, name: str, conditions: list[dict[str, Any]]
) -> None:
    lc_id = await db.fetchval("INSERT INTO loyalty_clubs (slug, name) VALUES ('c', 'C') RETURNING id")
    await db.executemany(
        "INSERT INTO members (loyalty_club_id, id, msisdn, email, sms_status, properties, consents) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [(lc_id, m["id"], m["msisdn"], m["email"], m["sms_status"], m["properties"], m["consents"]) for m in MEMBERS],
    )
    sql, params = compile_conditions(conditions, first_param=1)
    rows = await db.fetch(f"SELECT id FROM members m WHERE loyalty_club_id = $1 AND {sql} ORDER BY id", lc_id, *params)  # noqa: S608
    expected = [m["id"] for m in MEMBERS if evaluate(conditions, m)]
    assert [r["id"] for r in rows] == expected
    assert 0 < len(expected) < len(MEMBERS), f"{name}: a case must tell members apart"
