-- A deleted member stays as a tombstone (no data), so a late, older upsert cannot bring it back.
ALTER TABLE members ADD COLUMN deleted_at timestamptz;
