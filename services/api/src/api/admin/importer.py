"""`messaging-admin import-members`: members from JSON Lines or CSV, validated row by row, upserted in batches.

A row is imported whole or rejected whole with its reason; a rejected row never stops the others. Each
batch is one transaction: a binary COPY into a staging table, then one upsert with the same rule as the
member events: a version older than the one held changes nothing. Rows without `updated_at` are taken as
current. A row is checked by a plain fast path first; anything it is not sure of goes to the pydantic
model, which has the last word and gives the reasons. While PostgreSQL writes one batch, the next is read.
A file that is missing, or not in the format it is read as (its first line tells), stops the import before it
starts with one `MembersFileError`.
"""

import asyncio
import contextlib
import csv
import io
import sys
import time
from collections import deque
from collections.abc import Iterator, KeysView
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, TextIO

import asyncpg
import orjson
import phonenumbers
from pydantic import ValidationError

from api.admin import repository
from api.admin.db import connect
from api.admin.errors import MembersFileError, UnknownLoyaltyClub
from api.admin.member_rows import Record, to_record
from api.repository.members import FIELDS, get_loyalty_club_id
from shared.formats import utcnow

MAX_REJECTIONS_SHOWN = 20
KNOWN_CSV_COLUMNS = set(FIELDS) | {"properties", "consents"}
READ_BLOCK = 1 << 20
WRITERS = 2  # batches written at once: one PostgreSQL backend alone cannot keep up with the reading
ROWS_BETWEEN_YIELDS = 64  # how often the reading lets the previous batch's write move on (~1 ms)
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")


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


def _csv_rows(raw: IO[bytes]) -> Iterator[tuple[int, Any]]:
    """(line number, raw row or the exception that spoiled it); UnicodeDecodeError ends the file."""
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict", newline="")  # -sig: spreadsheets' BOM
    reader = csv.DictReader(text)
    try:
        for row in reader:
            try:
                yield reader.line_num, _csv_row(row)
            except (orjson.JSONDecodeError, AttributeError) as exc:
                yield reader.line_num, exc
    finally:
        text.detach()  # the caller closes the file


def _lines(raw: IO[bytes]) -> Iterator[bytes]:
    """The file's lines split as a text file splits them (\\n, \\r\\n or \\r), read in large blocks."""
    tail = b""
    while block := raw.read(READ_BLOCK):
        cut = block.rfind(b"\n") + 1
        if cut:
            yield from (tail + block[:cut]).splitlines()
            tail = block[cut:]
        else:
            tail += block
    yield from tail.splitlines()


def _jsonl_rows(raw: IO[bytes]) -> Iterator[tuple[int, Any]]:
    """Like `_csv_rows`; blank lines are skipped but counted."""
    for number, line in enumerate(_lines(raw), start=1):
        if line.strip():
            try:
                yield number, orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                if line.decode("utf-8").strip():  # UnicodeDecodeError: not UTF-8, the import stops there
                    yield number, exc


def _progress(out: TextIO, done_bytes: int, total_bytes: int, summary: ImportSummary, started: float) -> None:
    share = done_bytes / total_bytes if total_bytes else 1.0
    bar = "#" * int(share * 30)
    rate = summary.read / max(time.monotonic() - started, 1e-9)
    out.write(f"\r[{bar:<30}] {share:6.1%}  {summary.read:,} rows  {summary.rejected:,} rejected  {rate:,.0f} rows/s")
    out.flush()


def file_format(path: Path, fmt: str | None) -> str:
    """The format to read `path` in (`fmt`, else by its extension), once its first line fits it."""
    if not path.is_file():
        raise MembersFileError(f"no members file {path}: give the path of a .jsonl or .csv file")
    if fmt is None:
        if path.suffix.lower() == ".csv":
            fmt = "csv"
        elif path.suffix.lower() in JSONL_SUFFIXES:
            fmt = "jsonl"
        else:
            raise MembersFileError(f"cannot tell the format of {path} from its name: give --format jsonl or csv")
    try:
        with path.open("rb") as raw:
            first = next((line for line in _lines(raw) if line.strip()), b"")
    except OSError as exc:
        raise MembersFileError(f"cannot read {path}: {exc.strerror}") from None
    _check_first_line(path, fmt, first.removeprefix(b"\xef\xbb\xbf"))
    return fmt


def _check_first_line(path: Path, fmt: str, first: bytes) -> None:
    if not first:
        return  # nothing to import is no error
    try:
        text = first.decode()
    except UnicodeDecodeError:
        raise MembersFileError(f"{path} is not UTF-8 text: members come as JSON Lines or CSV in UTF-8") from None
    if fmt == "csv":
        if "id" not in (column.strip() for column in next(csv.reader([text]))):
            raise MembersFileError(f"{path} has no id column: the first line of the CSV names the columns (id, ...)")
        return
    try:
        row = orjson.loads(first)
    except orjson.JSONDecodeError:
        row = None
    if not isinstance(row, dict):
        raise MembersFileError(
            f"the first line of {path} is not a JSON object: JSON Lines hold one member object per line "
            "(give --format csv for a CSV)"
        )


async def import_members(
    database_url: str, path: Path, lc_slug: str, fmt: str | None = None, batch_size: int = 5000,
    progress: TextIO | None = sys.stderr,
) -> ImportSummary:  # fmt: skip
    """Import the file's members into the LC; returns the summary.

    Raises UnknownLoyaltyClub, MembersFileError for a file missing or not in the format, DatabaseUnreachable.
    """
    fmt = file_format(path, fmt)
    phonenumbers.enable_pattern_cache()  # else every number recompiles ~10 patterns through re's small cache
    # A command-line run: nothing else shares this event loop, so blocking file reads are fine.
    summary, started, total = ImportSummary(), time.monotonic(), path.stat().st_size  # noqa: ASYNC240
    conns = [await connect(database_url) for _ in range(WRITERS)]
    writers: _Writers | None = None
    try:
        lc_id = await get_loyalty_club_id(conns[0], lc_slug)
        if lc_id is None:
            raise UnknownLoyaltyClub([lc_slug])
        writers = await _Writers.open(conns, lc_id)
        now = utcnow()
        with path.open("rb") as raw:
            rows, more = (_csv_rows(raw) if fmt == "csv" else _jsonl_rows(raw)), True
            while more:
                batch, more = await _read_batch(rows, fmt, batch_size, summary, now)
                summary.imported += await writers.submit(batch)
                if progress:
                    _progress(progress, raw.tell() if more else total, total, summary, started)
        summary.imported += await writers.finish()
        if progress:
            progress.write("\n")
    finally:
        if writers:
            await writers.cancel()
        for conn in conns:
            await conn.close()
    summary.seconds = time.monotonic() - started
    return summary


async def _read_batch(
    rows: Iterator[tuple[int, Any]], fmt: str, size: int, summary: ImportSummary, now: datetime
) -> tuple[dict[int, Record], bool]:
    """The next `size` members by id (the same id twice: the later row wins); False once the file is done."""
    batch: dict[int, Record] = {}
    try:
        for line, row in rows:
            summary.read += 1
            if summary.read % ROWS_BETWEEN_YIELDS == 0:
                await asyncio.sleep(0)  # the write of the previous batch goes on meanwhile in PostgreSQL
            if isinstance(row, Exception):
                summary.reject(line, f"not valid {fmt}: {row}")
                continue
            try:
                record = to_record(row, now)
            except ValidationError as exc:
                summary.reject(line, _reason(exc))
                continue
            batch[record[0]] = record
            if len(batch) >= size:
                return batch, True
    except UnicodeDecodeError as exc:
        summary.reject(summary.read + 1, f"not UTF-8, import stopped there: {exc.reason}")
    return batch, False


async def _write(conn: asyncpg.Connection, lc_id: int, records: list[Record]) -> int:
    """One batch in one transaction; rows written."""
    return await repository.upsert_staged(conn, lc_id, records) if records else 0


@dataclass
class _Writing:
    task: asyncio.Task[int]
    conn: asyncpg.Connection
    ids: KeysView[int]


@dataclass
class _Writers:
    """Batches written at once, one per connection; a batch sharing an id with one being written waits for it.

    Batches in flight never share a member, so each member's rows still land in file order.
    """

    lc_id: int
    free: list[asyncpg.Connection]
    writing: deque[_Writing] = field(default_factory=deque)

    @classmethod
    async def open(cls, conns: list[asyncpg.Connection], lc_id: int) -> "_Writers":
        for conn in conns:
            await repository.create_staging(conn)
        return cls(lc_id, list(conns))

    async def submit(self, batch: dict[int, Record]) -> int:
        """Start writing `batch`; returns the rows written by the batches it had to wait for."""
        written = 0
        while not self.free or any(not w.ids.isdisjoint(batch) for w in self.writing):
            written += await self._finish_oldest()
        conn = self.free.pop()
        task = asyncio.create_task(_write(conn, self.lc_id, list(batch.values())))
        self.writing.append(_Writing(task, conn, batch.keys()))
        return written

    async def finish(self) -> int:
        """Wait for every batch; returns the rows they wrote."""
        written = 0
        while self.writing:
            written += await self._finish_oldest()
        return written

    async def cancel(self) -> None:
        for writing in self.writing:
            writing.task.cancel()
            with contextlib.suppress(BaseException):
                await writing.task

    async def _finish_oldest(self) -> int:
        writing = self.writing[0]
        written = await writing.task
        self.writing.popleft()
        self.free.append(writing.conn)
        return written
