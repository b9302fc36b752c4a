"""`messaging-admin import-members`: members from JSON Lines or CSV, validated row by row, upserted in batches.

A row is imported whole or rejected whole with its reason; a rejected row never stops the others. Each
batch is one transaction and one statement, with the same rule as the member events: a version older
than the one held changes nothing. Rows without `updated_at` are taken as current.
"""

import csv
import io
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import asyncpg
import orjson
from pydantic import ConfigDict, Field, ValidationError, field_validator

from api.repository.members import FIELDS, get_loyalty_club_id, upsert_members
from api.schemas import Email, Msisdn, Payload
from shared.db import init_connection
from shared.formats import utcnow

MAX_REJECTIONS_SHOWN = 20
KNOWN_CSV_COLUMNS = set(FIELDS) | {"properties", "consents"}


class MemberRecord(Payload):
    """One member as spec §3.1 describes it."""

    model_config = ConfigDict(extra="forbid")

    id: int = Field(ge=1, le=2**63 - 1)
    secret_id: str | None = None
    msisdn: Msisdn | None = None
    email: Email | None = None
    app_token: str | None = None
    app_platform: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    consents: dict[str, Any] = Field(default_factory=dict)
    sms_status: str = "enabled"
    email_status: str = "enabled"
    push_status: str = "enabled"
    updated_at: datetime | None = None

    @field_validator("msisdn", "email", "app_token", "app_platform", "secret_id", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value


@dataclass
class ImportSummary:
    """What an import did: rows read, members written, rows rejected (the first ones with reasons)."""

    read: int = 0
    imported: int = 0
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def reject(self, line: int, reason: str) -> None:
        self.rejected += 1
        if len(self.reasons) < MAX_REJECTIONS_SHOWN:
            self.reasons.append(f"line {line}: {reason}")


def _reason(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in error.errors())


def _csv_row(row: dict[str, str]) -> dict[str, Any]:
    """CSV columns as a member: `properties` / `consents` hold JSON; any other unknown column is a property."""
    record: dict[str, Any] = {
        k: v for k, v in row.items() if k in KNOWN_CSV_COLUMNS and k not in ("properties", "consents")
    }
    record["properties"] = orjson.loads(row["properties"]) if row.get("properties") else {}
    record["consents"] = orjson.loads(row["consents"]) if row.get("consents") else {}
    record["properties"].update({k: v for k, v in row.items() if k not in KNOWN_CSV_COLUMNS and v != ""})
    if not record.get("updated_at"):
        record.pop("updated_at", None)
    return record


def _rows(stream: TextIO, fmt: str) -> Iterator[tuple[int, Any]]:
    """(line number, raw row or the exception that spoiled it)."""
    if fmt == "csv":
        reader = csv.DictReader(stream)
        for row in reader:
            try:
                yield reader.line_num, _csv_row(row)
            except (orjson.JSONDecodeError, AttributeError) as exc:
                yield reader.line_num, exc
        return
    for number, line in enumerate(stream, start=1):
        if line.strip():
            try:
                yield number, orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield number, exc


def _progress(out: TextIO, done_bytes: int, total_bytes: int, summary: ImportSummary, started: float) -> None:
    share = done_bytes / total_bytes if total_bytes else 1.0
    bar = "#" * int(share * 30)
    rate = summary.read / max(time.monotonic() - started, 1e-9)
    out.write(f"\r[{bar:<30}] {share:6.1%}  {summary.read:,} rows  {summary.rejected:,} rejected  {rate:,.0f} rows/s")
    out.flush()


async def import_members(
    database_url: str, path: Path, lc_slug: str, fmt: str | None = None, batch_size: int = 5000,
    progress: TextIO | None = sys.stderr,
) -> ImportSummary:  # fmt: skip
    """Import the file's members into the LC; returns the summary (raises SystemExit for an unknown LC)."""
    fmt = fmt or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    # A command-line run: nothing else shares this event loop, so blocking file reads are fine.
    summary, started, total = ImportSummary(), time.monotonic(), path.stat().st_size  # noqa: ASYNC240
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    try:
        lc_id = await get_loyalty_club_id(conn, lc_slug)
        if lc_id is None:
            raise SystemExit(f"unknown loyalty club: {lc_slug}")
        now = utcnow()
        batch: dict[int, dict[str, Any]] = {}
        with path.open("rb") as raw, io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline="") as text:
            try:
                for line, row in _rows(text, fmt):
                    summary.read += 1
                    if isinstance(row, Exception):
                        summary.reject(line, f"not valid {fmt}: {row}")
                        continue
                    try:
                        member = MemberRecord.model_validate(row).model_dump()
                    except ValidationError as exc:
                        summary.reject(line, _reason(exc))
                        continue
                    member["updated_at"] = member["updated_at"] or now
                    batch[member["id"]] = member  # the same id twice in a batch: the later row wins
                    if len(batch) >= batch_size:
                        summary.imported += await _write(conn, lc_id, list(batch.values()))
                        batch = {}
                        if progress:
                            _progress(progress, raw.tell(), total, summary, started)
            except UnicodeDecodeError as exc:
                summary.reject(summary.read + 1, f"not UTF-8, import stopped there: {exc.reason}")
        summary.imported += await _write(conn, lc_id, list(batch.values()))
        if progress:
            _progress(progress, total, total, summary, started)
            progress.write("\n")
    finally:
        await conn.close()
    summary.seconds = time.monotonic() - started
    return summary


async def _write(conn: asyncpg.Connection, lc_id: int, batch: list[dict[str, Any]]) -> int:
    if not batch:
        return 0
    async with conn.transaction():
        return await upsert_members(conn, lc_id, batch)
