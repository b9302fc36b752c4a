"""`messaging-admin import-members` against a real PostgreSQL: good rows in, bad rows out with reasons."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import orjson

from api.admin import create_lc
from api.importer import import_members


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
