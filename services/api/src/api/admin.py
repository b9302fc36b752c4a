"""`messaging-admin`: operator commands — migrate the schema, create loyalty clubs and API clients, import
members, follow a sending."""

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from rich.console import Console

from api.auth import hash_token, new_token
from api.config import ApiSettings
from api.follow import follow
from api.importer import import_members
from api.permits import ALL_PERMITS, normalize_permit
from shared.db import migrate
from shared.domain import SendingStatus

DEFAULT_RETENTION_DAYS = 90


def default_lc_settings(slug: str, name: str) -> dict[str, Any]:
    """Messaging settings of a new LC: every channel usable, with senders derived from its name."""
    sender = "".join(ch for ch in name if ch.isalnum())[:11] or "Messaging"
    return {
        "channels": {
            "sms": {"sender_type": "alphanumeric", "sender_value": sender},
            "email": {"from_name": name, "from_email": f"no-reply@{slug}.example.com"},
            "push": {"android_app_id": None, "ios_app_id": None},
        }
    }


async def create_lc(url: str, slug: str, name: str, retention_days: int = DEFAULT_RETENTION_DAYS) -> int:
    conn = await asyncpg.connect(url)
    try:
        settings = {**default_lc_settings(slug, name), "retention_days": retention_days}
        lc_id: int = await conn.fetchval(
            "INSERT INTO loyalty_clubs (slug, name, settings) VALUES ($1, $2, $3::jsonb) RETURNING id",
            slug,
            name,
            orjson.dumps(settings).decode(),
        )
        return lc_id
    finally:
        await conn.close()


async def create_client(url: str, lc_slugs: list[str], name: str, permits: list[str]) -> str:
    """Store a new API client for the LCs; returns its token, which exists nowhere else afterwards."""
    conn = await asyncpg.connect(url)
    try:
        lc_ids = await conn.fetch("SELECT id, slug FROM loyalty_clubs WHERE slug = ANY($1)", lc_slugs)
        unknown = set(lc_slugs) - {r["slug"] for r in lc_ids}
        if unknown:
            raise SystemExit(f"unknown loyalty club: {', '.join(sorted(unknown))}")
        token = new_token()
        await conn.execute(
            "INSERT INTO api_clients (name, token_hash, permits, loyalty_club_ids) VALUES ($1, $2, $3, $4)",
            name,
            hash_token(token),
            sorted({normalize_permit(p) for p in permits}),
            [r["id"] for r in lc_ids],
        )
        return token
    finally:
        await conn.close()


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="messaging-admin", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the database migrations not applied yet")
    lc = commands.add_parser("create-lc", help="create a loyalty club (tenant)")
    lc.add_argument("slug")
    lc.add_argument("--name", required=True)
    lc.add_argument("--retention-days", type=int, default=DEFAULT_RETENTION_DAYS,
                    help="days after which dispatches lose their content and identifiers")  # fmt: skip
    client = commands.add_parser("create-client", help="create an API client; prints its token on the last line")
    client.add_argument("--lc", action="append", required=True, help="slug of an LC it may act for (repeatable)")
    client.add_argument("--name", required=True)
    which = client.add_mutually_exclusive_group(required=True)
    which.add_argument("--permit", action="append", help="a permit name (repeatable)")
    which.add_argument("--all-permits", action="store_true", help="every permit, every service")
    members = commands.add_parser("import-members", help="import members from JSON Lines or CSV")
    members.add_argument("file", type=Path)
    members.add_argument("--lc", required=True, help="slug of the LC the members belong to")
    members.add_argument("--format", choices=("jsonl", "csv"), help="default: by the file's extension")
    members.add_argument("--batch-size", type=int, default=5000)
    sending = commands.add_parser("sending", help="a sending's progress from the ledger; --follow until it is final")
    sending.add_argument("sending_id", type=int)
    sending.add_argument("--follow", action="store_true", help="show live progress bars until the sending is final")
    sending.add_argument("--interval", type=float, default=1.0, help="seconds between reads of the ledger")
    return root


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    url = ApiSettings().database_url
    if args.command == "migrate":
        applied = asyncio.run(migrate(url))
        print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none'}")
    elif args.command == "create-lc":
        if args.retention_days < 1:
            raise SystemExit("--retention-days must be at least 1")
        lc_id = asyncio.run(create_lc(url, args.slug, args.name, args.retention_days))
        print(f"created loyalty club {args.slug} (id {lc_id})")
    elif args.command == "create-client":
        permits = list(ALL_PERMITS) if args.all_permits else args.permit
        token = asyncio.run(create_client(url, args.lc, args.name, permits))
        print(f"created API client {args.name!r} for {', '.join(args.lc)} with {len(permits)} permit(s); token:")
        print(token)
    elif args.command == "import-members":
        summary = asyncio.run(import_members(url, args.file, args.lc, args.format, args.batch_size))
        rate = summary.read / summary.seconds if summary.seconds else 0
        print(f"read {summary.read} rows: {summary.imported} members imported, {summary.rejected} rejected "
              f"in {summary.seconds:.1f} s ({rate:,.0f} rows/s)")  # fmt: skip
        for reason in summary.reasons:
            print(f"  rejected {reason}")
        if summary.rejected > len(summary.reasons):
            print(f"  ... and {summary.rejected - len(summary.reasons)} more")
    elif args.command == "sending":
        snapshot = asyncio.run(follow(url, args.sending_id, max(args.interval, 0.05), Console(), live=args.follow))
        if snapshot.status == SendingStatus.FAILED:
            raise SystemExit(1)
    sys.stdout.flush()
