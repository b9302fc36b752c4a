-- Delivery status that stays true under provider timing and crashes (docs/decisions/delivery-truth.md).

-- A dispatch is claimed (`claimed_until` set) right before its own provider request leaves, and unclaimed when
-- its outcome is recorded: only requests in flight hold a claim, so this index stays small, and the scheduler
-- finds the claims whose process died (outcome unknown: `ambiguous_outcome`) without scanning unsent dispatches.
CREATE INDEX dispatches_claimed ON dispatches (claimed_until) WHERE claimed_until IS NOT NULL;

-- The receipts inbox: a provider's webhook is answered 2xx only once its receipt is here. Kafka's
-- `delivery.status` only announces it. A receipt whose dispatch is not known yet (it may beat the record of the
-- provider's answer) waits here and is tried again with backoff until it matches or expires.
CREATE TABLE receipts_inbox (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider             text NOT NULL,
    event_key            text NOT NULL,           -- the provider's identity of this report: a duplicate is dropped
    provider_message_id  text NOT NULL,
    dispatch_id          bigint,                  -- our id, when the provider echoed it back
    status               text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    external_status      text NOT NULL,
    reported_at          timestamptz NOT NULL,
    received_at          timestamptz NOT NULL DEFAULT now(),
    attempts             integer NOT NULL DEFAULT 0,
    next_attempt_at      timestamptz NOT NULL DEFAULT now(),
    applied_at           timestamptz,             -- set once it was applied, found stale, or expired unmatched
    outcome              text CHECK (outcome IN ('applied', 'settled', 'stale', 'expired')),
    UNIQUE (provider, event_key)
);
CREATE INDEX receipts_inbox_waiting ON receipts_inbox (next_attempt_at) WHERE applied_at IS NULL;
-- Receipts done with are forgotten after a few days, by age (appended in time order: BRIN costs next to nothing).
CREATE INDEX receipts_inbox_by_age ON receipts_inbox USING brin (received_at);

ALTER TABLE receipt_counts DROP CONSTRAINT receipt_counts_outcome_check;
ALTER TABLE receipt_counts ADD CONSTRAINT receipt_counts_outcome_check
    CHECK (outcome IN ('applied', 'settled', 'stale', 'unknown', 'foreign', 'duplicate', 'expired'));
