"""CPU time per program over a stretch of a benchmark, read from /proc: where the machine's cores went.

Every process of the machine is counted, grouped by what it runs (`python -m preparer` is "preparer", every
PostgreSQL backend is "postgres"), so a benchmark can print the CPU each part of the pipeline spent per item,
and whatever else was busy on the machine meanwhile shows up too.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _program(pid: str) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    words = [a.decode(errors="replace") for a in argv if a]
    if not words:
        return "?"
    if words[0].startswith("postgres"):  # a backend's title: "postgres: user db host(port) idle"
        return "postgres"
    if "-m" in words[:-1]:
        return words[words.index("-m") + 1].removeprefix("tests.bench.")
    return Path(words[0]).name


def snapshot() -> dict[tuple[str, str], float]:
    """CPU seconds (user + system) of every live process so far, by (pid, program)."""
    seen: dict[tuple[str, str], float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        seen[(entry.name, _program(entry.name))] = (int(fields[11]) + int(fields[12])) / TICKS
    return seen


def spent(before: dict[tuple[str, str], float], after: dict[tuple[str, str], float]) -> dict[str, float]:
    """CPU seconds spent between two snapshots, by program (processes started meanwhile count whole)."""
    by_program: dict[str, float] = defaultdict(float)
    for key, seconds in after.items():
        by_program[key[1]] += seconds - before.get(key, 0.0)
    return {p: s for p, s in sorted(by_program.items(), key=lambda kv: -kv[1]) if s >= 0.05}


def report(seconds_by_program: dict[str, float], items: int, wall: float) -> str:
    """One line: µs of CPU per item for each program, and how busy the cores were."""
    total = sum(seconds_by_program.values())
    parts = ", ".join(f"{p} {s / items * 1e6:.0f}" for p, s in seconds_by_program.items() if s / total >= 0.005)
    cores = os.cpu_count() or 1
    return (
        f"CPU per dispatch (µs): {parts}; total {total / items * 1e6:.0f} µs "
        f"({total:.0f} CPU-s in {wall:.0f} s on {cores} cores = {total / wall / cores:.0%} busy)"
    )
