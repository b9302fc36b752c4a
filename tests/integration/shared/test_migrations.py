"""The migration runner against a real PostgreSQL server."""

from __future__ import annotations

import asyncio

import asyncpg
from tests.infra import create_test_database, drop_database, with_database

from shared.db import migrate
from shared.db.migrate import migration_files


async def test_migrations_apply_once_even_when_two_runners_start_together(template_database: str) -> None:
    admin = await asyncpg.connect(template_database)
    try:
        await admin.execute('CREATE DATABASE "migrate_twice"')
    finally:
        await admin.close()
    url = with_database(template_database, "migrate_twice")
    try:
        first, second = await asyncio.gather(migrate(url), migrate(url))
        assert sorted([*first, *second]) == [version for version, _ in migration_files()]
        assert await migrate(url) == []
        conn = await asyncpg.connect(url)
        try:
            tables = {
                r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            }
        finally:
            await conn.close()
        assert {
            "loyalty_clubs",
            "api_clients",
            "members",
            "messages",
            "channels",
            "templates",
            "sendings",
            "sending_recipients",
            "dispatches",
            "schema_migrations",
        } <= tables
    finally:
        await drop_database(template_database, url)


async def test_a_test_database_is_a_fresh_clone_of_the_migrated_template(template_database: str) -> None:
    url = await create_test_database(template_database)
    try:
        conn = await asyncpg.connect(url)
        try:
            applied = await conn.fetchval("SELECT count(*) FROM schema_migrations")
            sendings = await conn.fetchval("SELECT count(*) FROM sendings")
        finally:
            await conn.close()
        assert applied == len(migration_files())
        assert sendings == 0
    finally:
        await drop_database(template_database, url)
