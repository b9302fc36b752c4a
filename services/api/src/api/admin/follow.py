"""`messaging-admin sending ID [--follow]`: one sending's progress from the ledger, live until it is final.

A bar per stage — prepared (recipients resolved out of those planned), transmitted (out of the prepared
dispatches) and receipts (delivery outcomes out of the transmitted) — with counts, rate and ETA drawn by
`rich`. On a terminal the bars redraw in place; otherwise (a log, a pipe) a line is printed each time the
counts change, so the progress stays readable there too.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from api.admin import repository
from api.admin.db import connection
from api.admin.errors import UnknownSending
from shared.db import Conn
from shared.domain import FINAL_SENDING_STATUSES, SendingId
from shared.ledger import Stats
from shared.ledger_repository import count_sending_dispatches


@dataclass(frozen=True)
class Snapshot:
    """What the ledger says of one sending at one moment."""

    sending_id: int
    status: str
    stats: Stats
    planned: int | None  # recipients resolved once preparation ended; an estimate while it runs
    resolved: int  # recipients resolved so far (dispatches, suppressed, unreachable)

    @property
    def final(self) -> bool:
        return self.status in FINAL_SENDING_STATUSES

    def stages(self) -> list[tuple[str, int, int | None]]:
        """(stage, done, total) for each bar; total None while not known."""
        s = self.stats
        return [
            ("prepared", self.resolved, self.planned),
            ("transmitted", s.transmitted + s.failed, s.prepared if self.status_past_preparation else None),
            ("receipts", s.delivered + s.delivery_failed, s.transmitted if self.final else None),
        ]

    @property
    def status_past_preparation(self) -> bool:
        return self.status not in ("draft", "scheduled", "preparing")

    def line(self) -> str:
        s = self.stats
        return (
            f"sending {self.sending_id} {self.status}: planned {s.planned}, prepared {s.prepared}, "
            f"transmitted {s.transmitted}, failed {s.failed}, delivered {s.delivered}, "
            f"delivery_failed {s.delivery_failed}, suppressed {s.suppressed}, unreachable {s.unreachable}"
        )


async def read_snapshot(conn: Conn, sending_id: SendingId) -> Snapshot | None:
    """The sending's ledger now, or None when there is no such sending."""
    sending = await repository.sending_ledger(conn, sending_id)
    if sending is None:
        return None
    ranges = await repository.ranges_ledger(conn, sending_id)
    counts = (await count_sending_dispatches(conn, [sending_id]))[sending_id]
    suppressed, unreachable = sending.suppressed_count, sending.unreachable_count
    if suppressed is None:  # still preparing: the ranges hold the counts of committed chunks
        suppressed, unreachable = ranges.suppressed, ranges.unreachable
    stats = Stats.of(suppressed, unreachable, counts)
    planned = sending.planned_count
    resolved = stats.planned
    if planned is None and ranges.member_ranges_done:
        # Member ranges hold about as many members each: extrapolate from the finished ones.
        per_range = ranges.in_done / ranges.member_ranges_done
        planned = max(resolved, round(sending.recipients_count + per_range * ranges.member_ranges))
    return Snapshot(sending_id, sending.status, stats, planned, resolved)


class View:
    """The bars of one sending, drawn with rich."""

    def __init__(self, console: Console, clock: Callable[[], float] | None = None) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>9}/s"),
            TimeRemainingColumn(),
            console=console,
            speed_estimate_period=10,
            get_time=clock,
        )
        self.tasks: dict[str, TaskID] = {}
        self.last_line = ""

    def __enter__(self) -> "View":
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def show(self, snapshot: Snapshot) -> None:
        for stage, done, total in snapshot.stages():
            if stage not in self.tasks:
                self.tasks[stage] = self.progress.add_task(stage, total=total, rate="-")
            task = self.tasks[stage]
            self.progress.update(task, completed=done, total=total)
            speed = self.progress.tasks[task].speed
            self.progress.update(task, rate=f"{speed:,.0f}" if speed else "-")
        line = snapshot.line()
        if not self.console.is_terminal and line != self.last_line:
            self.console.print(line, highlight=False, soft_wrap=True)
        self.last_line = line


async def follow(url: str, sending_id: SendingId, interval: float, console: Console, live: bool = True) -> Snapshot:
    """Show the sending's progress until it is final (or once, when not `live`); returns the last snapshot.

    Raises UnknownSending when there is no such sending, or it is deleted while followed.
    """
    async with connection(url) as conn:
        snapshot = await read_snapshot(conn, sending_id)
        if snapshot is None:
            raise UnknownSending(sending_id)
        with View(console) as view:
            view.show(snapshot)
            while live and not snapshot.final:
                await asyncio.sleep(interval)
                latest = await read_snapshot(conn, sending_id)
                if latest is None:
                    raise UnknownSending(sending_id, deleted=True)
                snapshot = latest
                view.show(snapshot)
        if console.is_terminal:  # elsewhere each change was printed already
            console.print(snapshot.line(), highlight=False, soft_wrap=True)
        return snapshot
