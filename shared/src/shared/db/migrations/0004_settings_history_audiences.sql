-- Sender identities an LC has approved: an sms sender must be one of them once the LC has any.
CREATE TABLE sender_identities (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    loyalty_club_id  bigint NOT NULL REFERENCES loyalty_clubs,
    type             text NOT NULL CHECK (type IN ('alphanumeric', 'international')),
    value            text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (loyalty_club_id, value)
);

-- Messaging history: a member's dispatches, newest first.
CREATE INDEX dispatches_by_member ON dispatches (loyalty_club_id, member_id, created_at DESC)
    WHERE member_id IS NOT NULL;

-- Audiences listed per LC, and the sendings that still need one.
CREATE INDEX audiences_by_lc ON audiences (loyalty_club_id, id) WHERE deleted_at IS NULL AND NOT inline;
CREATE INDEX sendings_by_audience ON sendings (audience_id) WHERE audience_id IS NOT NULL;
