"""A sending's ledger (spec §2.2 `stats`): what the api answers and what `sending.status` carries, computed once.

Every sum of the spec holds by construction: `planned` is what preparation resolved (prepared + suppressed +
unreachable), and `delivery_pending` is what was transmitted and has no final receipt yet."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from pydantic import BaseModel


@dataclass(frozen=True, slots=True)
class DispatchCounts:
    """A sending's dispatches by transmission and delivery status (the ledger's counted half)."""

    prepared: int = 0
    pending: int = 0
    transmitted: int = 0
    failed: int = 0
    delivered: int = 0
    delivery_failed: int = 0


class Stats(BaseModel):
    planned: int
    prepared: int
    suppressed: int
    unreachable: int
    pending: int
    transmitted: int
    failed: int
    delivered: int
    delivery_failed: int
    delivery_pending: int

    @classmethod
    def of(cls, suppressed: int | None, unreachable: int | None, counts: DispatchCounts) -> Self:
        suppressed = suppressed or 0
        unreachable = unreachable or 0
        return cls(
            planned=counts.prepared + suppressed + unreachable,
            prepared=counts.prepared,
            suppressed=suppressed,
            unreachable=unreachable,
            pending=counts.pending,
            transmitted=counts.transmitted,
            failed=counts.failed,
            delivered=counts.delivered,
            delivery_failed=counts.delivery_failed,
            delivery_pending=counts.transmitted - counts.delivered - counts.delivery_failed,
        )
