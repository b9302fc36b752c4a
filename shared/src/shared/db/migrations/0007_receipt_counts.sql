-- What delivery-receipts did with the receipts it got, per provider: applied, stale (the dispatch's status
-- was final already: a duplicate or a late report) or unknown (no dispatch has that provider message id).
CREATE TABLE receipt_counts (
    provider  text NOT NULL,
    outcome   text NOT NULL CHECK (outcome IN ('applied', 'stale', 'unknown', 'foreign')),
    count     bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (provider, outcome)
);
