"""The live view of `messaging-admin sending --follow`: a bar per stage with counts, rate and ETA."""

from __future__ import annotations

import io

from rich.console import Console

from api.admin.follow import Snapshot, View
from api.bodies import Stats

STATS = dict.fromkeys(
    ("planned", "prepared", "suppressed", "unreachable", "pending", "transmitted", "failed", "delivered",
     "delivery_failed", "delivery_pending"), 0,
)  # fmt: skip


def snapshot(status: str, **stats: int) -> Snapshot:
    merged = {**STATS, **stats}
    return Snapshot(7, status, Stats(**merged), merged["planned"] or None, merged["planned"])


def test_each_stage_has_a_bar_with_its_counts_rate_and_eta() -> None:
    now = [100.0]
    console = Console(file=io.StringIO(), force_terminal=True, width=120, record=True)
    view = View(console, clock=lambda: now[0])
    view.show(snapshot("transmitting", planned=1000, prepared=1000, transmitted=200, delivered=50))
    now[0] += 2.0
    view.show(snapshot("transmitting", planned=1000, prepared=1000, transmitted=600, failed=0, delivered=150))
    console.print(view.progress.get_renderable())
    text = console.export_text()
    bars = {line.split()[0]: line for line in text.splitlines() if line.strip()}
    assert "1000/1000" in bars["prepared"]
    assert "600/1000" in bars["transmitted"]
    assert "200/s" in bars["transmitted"]  # 400 more in 2 s
    assert "0:00:02" in bars["transmitted"]  # 400 left at 200/s
    assert "150/?" in bars["receipts"]  # total unknown until the sending is final
    assert "50/s" in bars["receipts"]


def test_the_stages_totals_follow_the_ledger() -> None:
    preparing = snapshot("preparing", planned=300, prepared=280, suppressed=20)
    assert preparing.stages() == [("prepared", 300, 300), ("transmitted", 0, None), ("receipts", 0, None)]
    done = snapshot("transmitted", planned=300, prepared=280, transmitted=270, failed=10, delivered=200,
                    delivery_failed=5)  # fmt: skip
    assert done.final
    assert done.stages() == [("prepared", 300, 300), ("transmitted", 280, 280), ("receipts", 205, 270)]
    assert not preparing.final


def test_off_a_terminal_a_line_is_printed_only_when_the_counts_change() -> None:
    out = io.StringIO()
    view = View(Console(file=out, force_terminal=False, width=80))
    view.show(snapshot("preparing", planned=10, prepared=10))
    view.show(snapshot("preparing", planned=10, prepared=10))
    view.show(snapshot("prepared", planned=10, prepared=10))
    lines = out.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == ["sending 7 preparing", "sending 7 prepared"]
    assert lines[1] == (
        "sending 7 prepared: planned 10, prepared 10, transmitted 0, failed 0, delivered 0, delivery_failed 0, "
        "suppressed 0, unreachable 0"
    )
