"""`messaging-admin`: operator commands — migrate the schema, create and list loyalty clubs and API clients,
revoke a client, import members, follow a sending, and a demo of the whole platform."""

import argparse
import asyncio
import dataclasses
import sys
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
from rich.console import Console

from api.admin.db import Target, connection, find_target, shown
from api.admin.demo import DEFAULT_LC, DEFAULT_MEMBERS, print_next_steps, run_demo
from api.admin.errors import AdminError, DatabaseUnreachable, SchemaMissing
from api.admin.follow import follow
from api.admin.importer import import_members
from api.admin.tenants import DEFAULT_RETENTION_DAYS, create_client, create_lc, list_clients, list_lcs, revoke_client
from api.permits import ALL_PERMITS
from shared.db import migrate
from shared.domain import SendingStatus

WHERE = """The database: DATABASE_URL, else the `make up` running in this checkout (its state file .local/stack.json,
or $LOCAL_DIR/stack.json when LOCAL_DIR is set)."""


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="messaging-admin", description=__doc__, epilog=WHERE)
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the database migrations not applied yet")
    lc = commands.add_parser("create-lc", help="create a loyalty club (tenant)")
    lc.add_argument("slug")
    lc.add_argument("--name", required=True)
    lc.add_argument("--retention-days", type=int, default=DEFAULT_RETENTION_DAYS,
                    help="days after which dispatches lose their content and identifiers")  # fmt: skip
    commands.add_parser("list-lcs", help="the loyalty clubs, with their members and API clients")
    client = commands.add_parser(
        "create-client", help="create an API client; prints its token on the last line",
        epilog="permits:\n  " + "\n  ".join(ALL_PERMITS), formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    client.add_argument("--lc", action="append", required=True, help="slug of an LC it may act for (repeatable)")
    client.add_argument("--name", required=True)
    which = client.add_mutually_exclusive_group(required=True)
    which.add_argument("--permit", action="append", help="a permit name, listed below (repeatable)")
    which.add_argument("--all-permits", action="store_true", help="every permit, every service")
    clients = commands.add_parser("list-clients", help="the API clients of a loyalty club, revoked ones too")
    clients.add_argument("--lc", required=True, help="slug of the LC")
    revoke = commands.add_parser("revoke-client", help="refuse an API client's token from now on (401)")
    revoke.add_argument("client_id", type=int, help="its id, as list-clients shows it")
    members = commands.add_parser("import-members", help="import members from JSON Lines or CSV")
    members.add_argument("file", type=Path)
    members.add_argument("--lc", required=True, help="slug of the LC the members belong to")
    members.add_argument("--format", choices=("jsonl", "csv"), help="default: by the file's extension")
    members.add_argument("--batch-size", type=int, default=5000)
    sending = commands.add_parser("sending", help="a sending's progress from the ledger; --follow until it is final")
    sending.add_argument("sending_id", type=int)
    sending.add_argument("--follow", action="store_true", help="show live progress bars until the sending is final")
    sending.add_argument("--interval", type=float, default=1.0, help="seconds between reads of the ledger")
    demo = commands.add_parser("demo", help="on a running make up: an LC, a client, the sample members, a sending")
    demo.add_argument("--lc", default=DEFAULT_LC, help=f"slug of the LC to use, created when missing ({DEFAULT_LC})")
    demo.add_argument("--members", type=Path, default=DEFAULT_MEMBERS, help=f"members to import ({DEFAULT_MEMBERS})")
    demo.add_argument("--api-url", help="the API to call; default: the one of the running make up")
    return root


async def _migrate(args: argparse.Namespace, target: Target) -> int:
    async with connection(target.url):  # one line when it does not answer, as for every other command
        pass
    applied = await migrate(target.url)
    print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none'}")
    return 0


async def _create_lc(args: argparse.Namespace, target: Target) -> int:
    if args.retention_days < 1:
        raise AdminError("--retention-days must be at least 1")
    lc_id = await create_lc(target.url, args.slug, args.name, args.retention_days)
    print(f"created loyalty club {args.slug} (id {lc_id})")
    return 0


async def _list_lcs(args: argparse.Namespace, target: Target) -> int:
    lcs = await list_lcs(target.url)
    if not lcs:
        print("no loyalty club yet: `messaging-admin create-lc SLUG --name NAME` creates one")
    else:
        _table(("id", "slug", "name", "members", "clients"),
               [(lc.id, lc.slug, lc.name, lc.members, lc.clients) for lc in lcs])  # fmt: skip
    return 0


async def _create_client(args: argparse.Namespace, target: Target) -> int:
    permits = list(ALL_PERMITS) if args.all_permits else args.permit
    token = await create_client(target.url, args.lc, args.name, permits)
    print(f"created API client {args.name!r} for {', '.join(args.lc)} with {len(permits)} permit(s); token:")
    print(token)
    return 0


async def _list_clients(args: argparse.Namespace, target: Target) -> int:
    clients = await list_clients(target.url, args.lc)
    if not clients:
        print(f"no API client for {args.lc} yet: `messaging-admin create-client --lc {args.lc} ...` creates one")
        return 0
    _table(("id", "name", "created", "revoked", "loyalty clubs", "permits"),
           [(c.id, c.name, _time(c.created_at), _time(c.revoked_at), ",".join(c.lc_slugs),
             "all" if set(c.permits) >= set(ALL_PERMITS) else ",".join(c.permits)) for c in clients])  # fmt: skip
    return 0


async def _revoke_client(args: argparse.Namespace, target: Target) -> int:
    revoked_at, already = await revoke_client(target.url, args.client_id)
    if already:
        print(f"API client {args.client_id} was revoked already, at {_time(revoked_at)}")
    else:
        print(f"revoked API client {args.client_id} at {_time(revoked_at)}: the API answers its token with 401")
    return 0


async def _import_members(args: argparse.Namespace, target: Target) -> int:
    summary = await import_members(target.url, args.file, args.lc, args.format, args.batch_size)
    rate = summary.read / summary.seconds if summary.seconds else 0
    print(f"read {summary.read} rows: {summary.imported} members imported, {summary.rejected} rejected "
          f"in {summary.seconds:.1f} s ({rate:,.0f} rows/s)")  # fmt: skip
    for reason in summary.reasons:
        print(f"  rejected {reason}")
    if summary.rejected > len(summary.reasons):
        print(f"  ... and {summary.rejected - len(summary.reasons)} more")
    return 0


async def _sending(args: argparse.Namespace, target: Target) -> int:
    snapshot = await follow(target.url, args.sending_id, max(args.interval, 0.05), Console(), live=args.follow)
    return 1 if snapshot.status == SendingStatus.FAILED else 0


async def _demo(args: argparse.Namespace, target: Target) -> int:
    if args.api_url:
        target = dataclasses.replace(target, api_url=args.api_url.rstrip("/"))
    demo = await run_demo(target, args.lc, args.members, sys.stdout)
    print_next_steps(demo, sys.stdout)
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, Target], Coroutine[Any, Any, int]]] = {
    "migrate": _migrate, "create-lc": _create_lc, "list-lcs": _list_lcs, "create-client": _create_client,
    "list-clients": _list_clients, "revoke-client": _revoke_client, "import-members": _import_members,
    "sending": _sending, "demo": _demo,
}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run one command; an expected failure is one line on stderr and exit code 1, never a traceback."""
    args = parser().parse_args(argv)
    target: Target | None = None
    try:
        target = find_target()
        return asyncio.run(COMMANDS[args.command](args, target))
    except DatabaseUnreachable as error:
        return _fail(f"{error}; {target.hint()}" if target else str(error))
    except AdminError as error:
        return _fail(str(error))
    except asyncpg.UndefinedTableError:  # a command reading a table the migrations create
        assert target is not None
        return _fail(str(SchemaMissing(shown(target.url))))
    except KeyboardInterrupt:
        return 130
    finally:
        sys.stdout.flush()


def _fail(line: str) -> int:
    print(f"messaging-admin: {' '.join(line.split())}", file=sys.stderr)
    return 1


def _table(header: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
    cells = [tuple(str(v) for v in row) for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _time(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%SZ")
