-- The initial schema: tenants and their API clients, members, messages with their channels and templates,
-- sendings with their inline recipients, and dispatches (one per recipient and sending).

CREATE TABLE loyalty_clubs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug        text NOT NULL UNIQUE,
    name        text NOT NULL,
    settings    jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_clients (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name              text NOT NULL,
    token_hash        bytea NOT NULL UNIQUE,          -- sha256 of the token; the token itself is never stored
    permits           text[] NOT NULL,
    loyalty_club_ids  bigint[] NOT NULL,
    revoked_at        timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE members (
    loyalty_club_id    bigint NOT NULL REFERENCES loyalty_clubs,
    id                 bigint NOT NULL,
    secret_id          text,
    msisdn             text,
    email              text,
    app_token          text,
    app_platform       text,
    properties         jsonb NOT NULL DEFAULT '{}',
    consents           jsonb NOT NULL DEFAULT '{}',
    sms_status         text NOT NULL DEFAULT 'enabled',
    email_status       text NOT NULL DEFAULT 'enabled',
    push_status        text NOT NULL DEFAULT 'enabled',
    source_updated_at  timestamptz,                    -- when the owning service changed it; older upserts lose
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (loyalty_club_id, id)
);

CREATE TABLE templates (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    loyalty_club_id  bigint NOT NULL REFERENCES loyalty_clubs,
    name             text,
    type             text NOT NULL CHECK (type IN ('plain', 'email', 'bee_email', 'push', 'generic')),
    content          jsonb NOT NULL,
    wrapper_id       bigint REFERENCES templates,
    standalone       boolean NOT NULL DEFAULT false,   -- false: the copy owned by one message channel
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    deleted_at       timestamptz
);

CREATE TABLE audiences (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    loyalty_club_id  bigint NOT NULL REFERENCES loyalty_clubs,
    name             text,
    conditions       jsonb NOT NULL DEFAULT '[]',
    inline           boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    deleted_at       timestamptz
);

CREATE TABLE messages (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    loyalty_club_id     bigint NOT NULL REFERENCES loyalty_clubs,
    service             text NOT NULL,
    name                text NOT NULL,
    shorten_urls        boolean NOT NULL DEFAULT true,
    track_in_shortener  boolean NOT NULL DEFAULT false,
    campaign_id         bigint,
    marketing           boolean,                       -- null: the service's default
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    deleted_at          timestamptz
);
CREATE INDEX messages_by_lc_service ON messages (loyalty_club_id, service, created_at) WHERE deleted_at IS NULL;

CREATE TABLE channels (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id   bigint NOT NULL REFERENCES messages,
    position     smallint NOT NULL,
    type         text NOT NULL CHECK (type IN ('sms', 'email', 'push')),
    sender       jsonb,
    from_email   text,
    from_name    text,
    template_id  bigint NOT NULL REFERENCES templates,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (message_id, type)
);

CREATE TABLE sendings (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    loyalty_club_id      bigint NOT NULL REFERENCES loyalty_clubs,
    message_id           bigint NOT NULL REFERENCES messages,
    audience_id          bigint REFERENCES audiences,
    status               text NOT NULL CHECK (status IN ('draft', 'scheduled', 'preparing', 'prepared',
                             'transmitting', 'transmitted', 'skipped', 'cancelled', 'failed')),
    draft                boolean NOT NULL DEFAULT false,
    priority             smallint CHECK (priority BETWEEN 1 AND 10),
    channels_preference  text[],
    properties           jsonb NOT NULL DEFAULT '{}',
    scheduled_at         timestamptz,
    scheduled_with       jsonb,
    prescheduled         boolean NOT NULL DEFAULT false,
    recipients_count     integer NOT NULL DEFAULT 0,
    members_count        integer,                      -- null until preparation resolved the recipients
    dispatches_count     integer,
    planned_count        integer,
    suppressed_count     integer,
    unreachable_count    integer,
    transmitted_at       timestamptz,
    status_changed_at    timestamptz NOT NULL DEFAULT now(),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    deleted_at           timestamptz
);
CREATE INDEX sendings_due ON sendings (scheduled_at) WHERE status = 'scheduled';
CREATE INDEX sendings_executing ON sendings (status_changed_at)
    WHERE status IN ('preparing', 'prepared', 'transmitting');
CREATE INDEX sendings_by_message ON sendings (message_id);

CREATE TABLE sending_recipients (
    sending_id  bigint NOT NULL REFERENCES sendings ON DELETE CASCADE,
    position    integer NOT NULL,
    member_id   bigint,
    msisdn      text,
    email       text,
    app_token   text,
    properties  jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (sending_id, position)
);

-- No foreign keys here on purpose: dispatches are written with COPY at hundreds of thousands of rows per
-- second, and a per-row FK check would halve that. The preparer only writes dispatches of sendings it read.
CREATE TABLE dispatches (
    id                        bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    sending_id                bigint NOT NULL,
    loyalty_club_id           bigint NOT NULL,
    recipient_key             text NOT NULL,           -- one dispatch per recipient: member:<id>, msisdn:<n>, ...
    type                      text NOT NULL,
    content                   jsonb,
    member_id                 bigint,
    msisdn                    text,
    email                     text,
    app_token                 text,
    transmission_status       text NOT NULL DEFAULT 'scheduled'
                                  CHECK (transmission_status IN ('scheduled', 'transmitted', 'failed')),
    delivery_status           text NOT NULL DEFAULT 'pending'
                                  CHECK (delivery_status IN ('pending', 'delivered', 'failed')),
    external_delivery_status  text,
    error                     text,
    provider                  text,
    provider_message_id       text,
    claimed_until             timestamptz,             -- set while a transmitter holds it; see design §3
    scheduled_at              timestamptz,
    transmitted_at            timestamptz,
    delivered_at              timestamptz,
    cleaned_at                timestamptz,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    UNIQUE (sending_id, recipient_key)
);
CREATE UNIQUE INDEX dispatches_by_provider_message ON dispatches (provider, provider_message_id)
    WHERE provider_message_id IS NOT NULL;
CREATE INDEX dispatches_untransmitted ON dispatches (sending_id) WHERE transmission_status = 'scheduled';

-- What the sandbox provider "sent": its own record, the way a real provider keeps a log of messages.
CREATE TABLE sandbox_messages (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider_message_id  text NOT NULL UNIQUE,
    dispatch_id          bigint NOT NULL,
    channel              text NOT NULL,
    recipient            text NOT NULL,
    content              jsonb NOT NULL,
    sent_at              timestamptz NOT NULL DEFAULT now()
);

-- Each running service instance beats here; the API's /readyz reports ready once every service is.
CREATE UNLOGGED TABLE service_heartbeats (
    service   text NOT NULL,
    instance  text NOT NULL,
    ready     boolean NOT NULL,
    beat_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service, instance)
);
