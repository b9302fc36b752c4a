"""Benchmark: `import-members` of generated members (1 000 000 by default, BENCH_MEMBERS to change).

Prints rows per second for the import, for its validation alone (no database) and, on the same database,
for a raw COPY of the same rows.
Uses DATABASE_URL when set, else an embedded PostgreSQL of its own in a temporary directory.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import orjson
from tests.infra import create_template_database, create_test_database

from api.admin.importer import _jsonl_rows, import_members
from api.admin.member_rows import to_record
from api.admin.tenants import create_lc
from devstack.infra import EmbeddedPostgres
from shared.db import migrate
from shared.formats import utcnow

FIRST_NAMES = ("Piotr", "Kari", "Ola", "Nora", "Jan", "Ingrid", "Lars", "Sofie", "Emil", "Maja")
CITIES = ("Oslo", "Bergen", "Trondheim", "Stavanger", "Tromsø", "Drammen")


def generate(path: Path, count: int) -> None:
    rng = random.Random(7)
    with path.open("wb") as out:
        for i in range(1, count + 1):
            out.write(orjson.dumps({
                "id": i, "msisdn": f"479{i:07d}", "email": f"member{i}@example.com",
                "properties": {"first_name": rng.choice(FIRST_NAMES), "city": rng.choice(CITIES),
                               "birthday": f"{rng.randint(1950, 2005)}-{rng.randint(1, 12):02d}-01",
                               "points": rng.randint(0, 50_000)},
                "consents": {"sms_marketing": {"status": rng.random() < 0.7}},
            }) + b"\n")  # fmt: skip


async def raw_copy_rate(url: str, path: Path) -> float:
    """COPY of the same rows into a bare table shaped like members: the machine's own ceiling."""
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines()]  # noqa: ASYNC240 - a benchmark script
    records = [(r["id"], r["msisdn"], r["email"], orjson.dumps(r["properties"]).decode(),
                orjson.dumps(r["consents"]).decode()) for r in rows]  # fmt: skip
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE raw_members (id bigint PRIMARY KEY, msisdn text, email text, "
                           "properties text, consents text)")  # fmt: skip
        started = time.monotonic()
        await conn.copy_records_to_table("raw_members", records=records)
        return len(records) / (time.monotonic() - started)
    finally:
        await conn.close()


def validation_rate(path: Path) -> float:
    """Reading and checking the rows, as the import does, without writing them: the Python side's ceiling."""
    now, started = utcnow(), time.monotonic()
    with path.open("rb") as raw:
        count = sum(1 for _, row in _jsonl_rows(raw) if to_record(row, now))
    return count / (time.monotonic() - started)


async def main() -> None:
    count = int(os.environ.get("BENCH_MEMBERS", "1000000"))
    with tempfile.TemporaryDirectory() as folder:
        server = None
        url = os.environ.get("DATABASE_URL")
        if not url:
            server = EmbeddedPostgres(Path(folder) / "pg").start()
            url = server.url
        try:
            await create_template_database(url)
            database = await create_test_database(url)
            await migrate(database)
            await create_lc(database, "bench", "Bench")
            path = Path(folder) / "members.jsonl"
            generate(path, count)
            summary = await import_members(database, path, "bench", progress=sys.stderr)
            copy_rate = await raw_copy_rate(database, path)
            check_rate = validation_rate(path)
        finally:
            if server:
                server.stop()
    rate = summary.read / summary.seconds
    print(
        f"import-members: {summary.imported:,} members in {summary.seconds:.1f} s = {rate:,.0f} rows/s "
        f"(validation alone: {check_rate:,.0f} rows/s; raw COPY of the same rows: {copy_rate:,.0f} rows/s)"
    )


if __name__ == "__main__":
    asyncio.run(main())
