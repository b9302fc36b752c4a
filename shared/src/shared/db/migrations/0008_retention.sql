-- The retention job finds dispatches by age: a BRIN index on created_at costs next to nothing on the COPY
-- path (dispatches are appended in time order) and lets the job skip the young part of the table.
CREATE INDEX dispatches_by_age ON dispatches USING brin (created_at);
