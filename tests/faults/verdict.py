"""The fault tier's verdict: a trigger that notes every status going backwards, and what Postgres and the
provider's log together say about one sending."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

# Every status that moves backwards, and every dispatch that becomes `ambiguous_outcome`, noted as it happens.
WATCH_DISPATCHES = """
CREATE TABLE fault_regressions (dispatch_id bigint, change text, at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE fault_ambiguous (dispatch_id bigint, at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE FUNCTION fault_watch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.transmission_status IS DISTINCT FROM OLD.transmission_status AND OLD.transmission_status <> 'scheduled'
       AND NOT (OLD.error = 'ambiguous_outcome' AND NEW.transmission_status = 'transmitted') THEN
        INSERT INTO fault_regressions VALUES (NEW.id, OLD.transmission_status || ' -> ' || NEW.transmission_status);
    END IF;
    IF NEW.delivery_status IS DISTINCT FROM OLD.delivery_status AND OLD.delivery_status <> 'pending' THEN
        INSERT INTO fault_regressions
            VALUES (NEW.id, 'delivery ' || OLD.delivery_status || ' -> ' || NEW.delivery_status);
    END IF;
    IF NEW.delivery_status <> 'pending' AND NEW.transmission_status <> 'transmitted' THEN
        INSERT INTO fault_regressions VALUES (NEW.id, 'delivery status on a dispatch not transmitted');
    END IF;
    IF NEW.error = 'ambiguous_outcome' AND OLD.error IS DISTINCT FROM 'ambiguous_outcome' THEN
        INSERT INTO fault_ambiguous (dispatch_id) VALUES (NEW.id);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER fault_watch AFTER UPDATE ON dispatches FOR EACH ROW EXECUTE FUNCTION fault_watch();
"""


@dataclass
class Verdict:
    """What the provider's log and Postgres say about one sending."""

    dispatches: int
    double_sent: list[int]
    lost: list[int]  # never transmitted nor failed
    untrue: list[tuple[int, str]]  # taken by the provider, but not so in Postgres
    phantom: list[int]  # transmitted in Postgres, never taken by the provider
    regressions: list[tuple[int, str]]
    ambiguous_ever: int  # dispatches that were `ambiguous_outcome` at some point
    failed: Counter[str]
    receipts_acknowledged: int  # final callbacks the webhook answered 2xx
    ledger: dict[str, int]

    def summary(self) -> str:
        return (f"{self.dispatches} dispatches, failed {dict(self.failed)}, ambiguous at some point "
                f"{self.ambiguous_ever}, final receipts acknowledged {self.receipts_acknowledged}, "
                f"delivered {self.ledger['delivered']}, delivery_failed {self.ledger['delivery_failed']}, "
                f"delivery_pending {self.ledger['delivery_pending']}")  # fmt: skip

    def assert_truthful(self) -> None:
        print(f"verdict: {self.summary()}", flush=True)
        assert self.double_sent == [], f"sent twice: {self.double_sent[:20]}"
        assert self.lost == [], f"{len(self.lost)} dispatches never transmitted nor failed: {self.lost[:20]}"
        assert self.untrue == [], f"{len(self.untrue)} dispatches unlike the provider's log: {self.untrue[:20]}"
        assert self.phantom == [], f"transmitted but never taken by the provider: {self.phantom[:20]}"
        assert self.regressions == [], f"statuses that went backwards: {self.regressions[:20]}"
        s = self.ledger
        assert s["planned"] == s["prepared"] + s["suppressed"] + s["unreachable"], s
        assert s["prepared"] == s["pending"] + s["transmitted"] + s["failed"], s
        assert s["transmitted"] == s["delivered"] + s["delivery_failed"] + s["delivery_pending"], s
        assert s["prepared"] == self.dispatches, s
