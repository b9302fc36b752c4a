-- Preparation of large sendings in ranges (several preparer replicas at once), resumable chunk by chunk;
-- short links; indexes the audience conditions use.

-- One row per range of a sending's recipients. Range 0 is the inline recipients (by position), ranges 1..n
-- split the LC's members by id: (lo, hi]. `cursor` is the last member id (or position) whose chunk is
-- committed, together with the chunk's dispatches and counts, so a restarted preparer resumes exactly.
CREATE TABLE preparation_ranges (
    sending_id   bigint NOT NULL REFERENCES sendings ON DELETE CASCADE,
    range_no     integer NOT NULL,
    lo           bigint NOT NULL,
    hi           bigint NOT NULL,
    cursor       bigint NOT NULL,
    done         boolean NOT NULL DEFAULT false,
    dispatches   integer NOT NULL DEFAULT 0,
    unreachable  integer NOT NULL DEFAULT 0,
    suppressed   integer NOT NULL DEFAULT 0,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sending_id, range_no)
);

-- Short links of sms bodies (`shorten_urls`), served by the api at /s/{code}.
CREATE TABLE short_links (
    code         text PRIMARY KEY,
    url          text NOT NULL,
    sending_id   bigint NOT NULL,
    dispatch_key text,                                -- recipient_key when tracked per recipient
    clicks       bigint NOT NULL DEFAULT 0,
    last_clicked_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX short_links_by_sending ON short_links (sending_id);

-- Audience conditions: containment pre-filters on properties use the GIN index, member attributes btree.
CREATE INDEX members_properties ON members USING gin (properties jsonb_path_ops);
CREATE INDEX members_by_msisdn ON members (loyalty_club_id, msisdn) WHERE msisdn IS NOT NULL;
CREATE INDEX members_by_email ON members (loyalty_club_id, lower(email)) WHERE email IS NOT NULL;
