"""`messaging-admin import-members` against a real PostgreSQL: good rows in, bad rows out with reasons."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import phonenumbers
import pytest
from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from api.admin.importer import import_members
from api.admin.member_rows import MemberRecord, Record, Unsure, fast_msisdn, fast_record, is_valid_number, to_record
from api.admin.tenants import create_lc
from api.schemas import normalize_msisdn


async def test_jsonl_rows_are_imported_and_bad_ones_rejected_with_their_line_and_reason(
    db: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    await create_lc(database_url, "imp", "Import Club")
    rows = [
        orjson.dumps({"id": 1, "msisdn": "+47 407 69 126", "properties": {"first_name": "Piotr"},
                      "consents": {"sms_marketing": {"status": True}}}),
        orjson.dumps({"id": 2, "msisdn": "12345"}),
        b"{not json",
        orjson.dumps({"id": 3, "email": "kari@example.com", "sms_status": "disabled", "colour": "red"}),
        orjson.dumps({"id": 3, "email": "kari@example.com"}),
        orjson.dumps({"id": 1, "msisdn": "4740769126", "properties": {"first_name": "Piotr B"}}),
    ]  # fmt: skip
    path = tmp_path / "members.jsonl"
    path.write_bytes(b"\n".join(rows) + b"\n")
    summary = await import_members(database_url, path, "imp", batch_size=2, progress=None)
    assert (summary.read, summary.imported, summary.rejected) == (6, 3, 3)
    assert [r.split(":")[0] for r in summary.reasons] == ["line 2", "line 3", "line 4"]
    assert "msisdn" in summary.reasons[0]
    assert "colour" in summary.reasons[2]
    members = {r["id"]: dict(r) for r in await db.fetch("SELECT id, msisdn, email, properties, consents FROM members")}
    assert members[1]["msisdn"] == "4740769126"
    assert members[1]["properties"] == {"first_name": "Piotr B"}
    assert members[3]["email"] == "kari@example.com"
    assert set(members) == {1, 3}


async def test_csv_columns_map_onto_members_and_unknown_columns_become_properties(
    db: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    await create_lc(database_url, "csv", "Csv Club")
    path = tmp_path / "members.csv"
    path.write_text(
        'id,msisdn,email,first_name,consents\n'
        '10,4740769126,,Piotr,"{""sms_marketing"": {""status"": true}}"\n'
        'x,4790000001,,Kari,\n'
        '11,,ola@example.se,Ola,\n'
    )  # fmt: skip
    summary = await import_members(database_url, path, "csv", progress=None)
    assert (summary.imported, summary.rejected) == (2, 1)
    assert summary.reasons[0].startswith("line 3: id")
    row = await db.fetchrow("SELECT msisdn, email, properties, consents FROM members WHERE id = 10")
    assert row is not None
    assert dict(row) == {"msisdn": "4740769126", "email": None, "properties": {"first_name": "Piotr"},
                         "consents": {"sms_marketing": {"status": True}}}  # fmt: skip


def test_the_command_prints_progress_and_a_summary(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps({"id": i, "email": f"m{i}@example.com"}) for i in range(1, 2001)))
    admin = Path(sys.executable).parent / "messaging-admin"
    env = {**os.environ, "DATABASE_URL": database_url}
    subprocess.run([str(admin), "create-lc", "cli", "--name", "Cli"], env=env, check=True, capture_output=True)
    done = subprocess.run([str(admin), "import-members", str(path), "--lc", "cli", "--batch-size", "500"],
                          env=env, check=True, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert "100.0%" in done.stderr
    assert "2,000 rows" in done.stderr
    assert done.stdout.startswith("read 2000 rows: 2000 members imported, 0 rejected")


async def test_a_member_repeated_across_batches_written_at_once_ends_as_its_last_row(
    db: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    await create_lc(database_url, "rep", "Repeat Club")
    rows = [{"id": i, "properties": {"pass": 1}} for i in range(1, 41)]
    rows += [{"id": i, "properties": {"pass": 2}} for i in range(40, 0, -1)]
    path = tmp_path / "members.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in rows))
    summary = await import_members(database_url, path, "rep", batch_size=3, progress=None)
    assert (summary.read, summary.rejected) == (80, 0)
    passes = {r["id"]: r["properties"]["pass"] for r in await db.fetch("SELECT id, properties FROM members")}
    assert passes == dict.fromkeys(range(1, 41), 2)


async def test_lines_count_like_a_text_file_and_a_line_not_in_utf8_stops_the_import_there(
    db: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    await create_lc(database_url, "utf", "Utf Club")
    path = tmp_path / "members.jsonl"
    path.write_bytes(b'{"id": 1}\r\n\r\n{"id": 2}\r{"id": "x"}\n{"id": 3, "email": "\xff"}\n{"id": 4}\n')
    summary = await import_members(database_url, path, "utf", progress=None)
    assert (summary.imported, summary.rejected) == (2, 2)
    assert summary.reasons[0].startswith("line 4: id")
    assert "not UTF-8, import stopped there" in summary.reasons[1]
    assert {r["id"] for r in await db.fetch("SELECT id FROM members")} == {1, 2}


NOW = datetime(2026, 1, 1, tzinfo=UTC)
GOOD_ROWS = [
    {"id": 1},
    {"id": 2, "msisdn": "+47 407 69 126", "email": " kari@example.com ", "properties": {"a": [1, {"b": None}]},
     "consents": {"sms_marketing": {"status": True}}, "sms_status": "disabled", "email_status": "",
     "push_status": "hard_bounced", "secret_id": "s", "app_token": "t", "app_platform": "ios"},
    {"id": 3, "msisdn": "004740769126", "email": "", "secret_id": "", "app_token": None, "app_platform": ""},
    {"id": 4, "msisdn": "4740769126", "updated_at": "2025-03-01T10:00:00+02:00"},
    {"id": 5, "msisdn": "+1 201 555 0123", "updated_at": None},
    {"id": "6", "msisdn": "+44 7911 123456"},
    {"id": 2**63 - 1, "msisdn": "46701234567"},
    {"id": 11, "updated_at": 1_700_000_000},  # pydantic's own validator decides `id` and `updated_at`
]  # fmt: skip
# Rows the model takes although the fast path is unsure of them (lax types, numbers the parse rewrites).
LAX_ROWS = [
    {"id": 7.0},
    {"id": 8, "msisdn": "0044 07911 123456"},  # the UK national prefix, which the parse strips
    {"id": 9, "msisdn": "+39 06 1234 5678"},  # an Italian leading zero
    {"id": 10, "msisdn": "47407691\uff126"},  # a fullwidth digit
]
BAD_ROWS = [
    {"id": 1, "msisdn": "12345"}, {"id": 1, "msisdn": "+47 407 69 12"}, {"id": 1, "msisdn": "+470 40769126"},
    {"id": 1, "msisdn": "0047 407 69 12a"}, {"id": 1, "msisdn": 4740769126}, {"id": 1, "msisdn": ["4740769126"]},
    {"id": 1, "msisdn": "+999 1234567"}, {"id": 1, "msisdn": "4740769126" * 3},
    {"id": 1, "email": "not-an-email"}, {"id": 1, "email": "a b@example.com"}, {"id": 1, "email": 5},
    {"id": 1, "email": "kari@example"},
    {}, {"id": None}, {"id": "x"}, {"id": 0}, {"id": -1}, {"id": 2**63}, {"id": 1.5}, {"id": "1.5"},
    {"id": 1, "colour": "red"}, {"id": 1, "ID": 1},
    {"id": 1, "properties": []}, {"id": 1, "properties": None}, {"id": 1, "consents": "yes"},
    {"id": 1, "sms_status": None}, {"id": 1, "email_status": 1}, {"id": 1, "push_status": ["enabled"]},
    {"id": 1, "updated_at": "yesterday"}, {"id": 1, "updated_at": [2025]},
    {"id": 1, "secret_id": 5}, {"id": 1, "app_token": []}, {"id": 1, "app_platform": False},
    [1, 2], "a member", None, 7,
]  # fmt: skip


def model_record(row: Any) -> Record | str:
    """What the pydantic model alone makes of a row: its staging row, or its rejection reason."""
    try:
        m = MemberRecord.model_validate(row).model_dump()
    except ValidationError as exc:
        return str(exc.errors())
    return (m["id"], m["secret_id"], m["msisdn"], m["email"], m["app_token"], m["app_platform"],
            orjson.dumps(m["properties"]).decode(), orjson.dumps(m["consents"]).decode(), m["sms_status"],
            m["email_status"], m["push_status"], m["updated_at"] or NOW)  # fmt: skip


def imported_record(row: Any) -> Record | str:
    try:
        return to_record(row, NOW)
    except ValidationError as exc:
        return str(exc.errors())


@pytest.mark.parametrize("row", GOOD_ROWS)
def test_the_fast_path_takes_a_plain_row_as_the_model_would(row: Any) -> None:
    assert not isinstance(model_record(row), str)
    assert fast_record(row, NOW) == model_record(row)


@pytest.mark.parametrize("row", LAX_ROWS + BAD_ROWS)
def test_the_fast_path_leaves_every_other_row_to_the_model_and_its_reasons(row: Any) -> None:
    with pytest.raises(Unsure):
        fast_record(row, NOW)
    assert imported_record(row) == model_record(row)
    assert isinstance(model_record(row), str) == (row in BAD_ROWS)


def numbering_plan_samples() -> set[str]:
    """Every region's example numbers, written the ways members send them, and near misses of each."""
    samples = set()
    for region in phonenumbers.SUPPORTED_REGIONS:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        for kind in range(12):
            number = phonenumbers.example_number_for_type(region, kind)
            if number is None or metadata is None:
                continue
            code, nsn = number.country_code, phonenumbers.national_significant_number(number)
            for prefix in {"", "0", "1", "8", metadata.national_prefix or ""}:
                for national in (nsn, nsn[:-1], nsn + "7", nsn[1:]):
                    samples |= {
                        f"+{code}{prefix}{national}",
                        f"00{code} {prefix}{national}",
                        f"{code}{prefix}{national}",
                    }
    return samples


def test_the_msisdn_fast_path_agrees_with_the_full_parse_and_takes_most_valid_numbers() -> None:
    fast, valid = 0, 0
    for value in numbering_plan_samples():
        try:
            expected: str | None = normalize_msisdn(value)
            valid += 1
        except PydanticCustomError:
            expected = None
        try:
            got = fast_msisdn(value)
        except Unsure:
            continue
        fast += 1
        assert got == expected, value
    assert fast > valid * 0.6


def test_the_fast_validity_check_is_phonenumbers_own_on_random_and_example_numbers() -> None:
    rng = random.Random(20261130)
    checked = valid = 0
    examples = [phonenumbers.example_number_for_type(region, kind)
                for region in phonenumbers.SUPPORTED_REGIONS for kind in range(12)]  # fmt: skip
    for country_code in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE):
        nationals = {str(rng.randint(10 ** (n - 1), 10**n - 1)) for n in range(2, 18) for _ in range(6)}
        for example in examples:
            if example is not None and example.country_code == country_code:
                nsn = str(example.national_number)
                nationals |= {nsn, nsn[:-1], nsn + "3", nsn[:-1] + str((int(nsn[-1]) + 1) % 10)}
        for national in nationals:
            if len(national) < 2 or national[0] == "0":
                continue
            expected = phonenumbers.is_valid_number(
                phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))
            )
            assert is_valid_number(country_code, national) == expected, (country_code, national)
            checked += 1
            valid += expected
    assert checked > 20_000
    assert valid > 1_000  # the valid side is exercised too, not only rejections
