-- `sending.status` (events spec §2), by the outbox rule (docs/decisions/events.md): every status change of a
-- sending is written, by this trigger and in the very transaction that makes the change, into an outbox; the
-- scheduler's relay publishes what is in it and deletes it once the broker confirmed. A crash anywhere in between
-- loses nothing: the row stays until it was published (at least once, always with the same event id).

-- Set by a sending created through `sending.requested` (spec §1); null for one created through HTTP.
ALTER TABLE sendings ADD COLUMN request_id text;
-- How many status changes the sending has seen: the `sequence` of its sending.status events, which only grows.
ALTER TABLE sendings ADD COLUMN status_sequence integer NOT NULL DEFAULT 0;

CREATE TABLE sending_status_outbox (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id         uuid NOT NULL DEFAULT gen_random_uuid(),
    sending_id       bigint NOT NULL,
    sequence         integer NOT NULL,
    status           text NOT NULL,
    previous_status  text,
    occurred_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE FUNCTION sending_status_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status THEN
        RETURN NEW;
    END IF;
    NEW.status_sequence := CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE OLD.status_sequence + 1 END;
    INSERT INTO sending_status_outbox (sending_id, sequence, status, previous_status)
    VALUES (NEW.id, NEW.status_sequence, NEW.status, CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END);
    PERFORM pg_notify('sending_status_outbox', '');
    RETURN NEW;
END
$$;

CREATE TRIGGER sending_status_outbox BEFORE INSERT OR UPDATE OF status ON sendings
    FOR EACH ROW EXECUTE FUNCTION sending_status_changed();
