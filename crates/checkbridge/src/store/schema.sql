-- checkbridge schema, version 1. Valid on SQLite and PostgreSQL alike: TEXT, BIGINT
-- (times in milliseconds since the epoch), no engine-specific types.

CREATE TABLE checks (
    id               TEXT PRIMARY KEY,          -- ours (UUID)
    tenant           TEXT NOT NULL,             -- our tenant key
    pageup_id        TEXT NOT NULL,             -- PageUp's check id
    phase            TEXT NOT NULL,             -- claimed | ordered | failed | cancelled
    reference        TEXT,                      -- Theary's verificationOrderId
    reason           TEXT,                      -- reasonForFail, in a recruiter's words
    invitation       TEXT NOT NULL,             -- the invitation as received (JSON)
    webhook_secret   TEXT NOT NULL,             -- per-order HMAC key
    order_due_at     BIGINT,                    -- when the orderer owes work (NULL: none)
    order_attempts   BIGINT NOT NULL DEFAULT 0,
    lease_until      BIGINT,                    -- work lease (orderer)
    lease_owner      TEXT,
    last_error       TEXT,
    desired_version  BIGINT NOT NULL DEFAULT 0, -- version of the document PageUp should hold
    desired_doc      TEXT,
    acked_version    BIGINT NOT NULL DEFAULT 0, -- version PageUp last acknowledged
    push_lease_until BIGINT,                    -- work lease (pusher)
    push_lease_owner TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (tenant, pageup_id)
);
CREATE INDEX checks_order_due ON checks (order_due_at);
CREATE INDEX checks_push_owed ON checks (tenant, desired_version, acked_version);

CREATE TABLE searches (
    id               TEXT PRIMARY KEY,          -- ours (UUID), sent as externalSearchId
    check_id         TEXT NOT NULL REFERENCES checks (id),
    tenant           TEXT NOT NULL,
    search_type      TEXT NOT NULL,
    theary_search_id TEXT,                      -- bare UUID, prefix stripped
    outcome          TEXT NOT NULL,             -- open | completed | action_required | cancelled
    result           TEXT,                      -- last terminal event data (JSON)
    last_event_at    BIGINT,
    updated_at       BIGINT NOT NULL,
    UNIQUE (tenant, theary_search_id)
);
CREATE INDEX searches_check ON searches (check_id);

CREATE TABLE webhook_events (
    event_id     TEXT PRIMARY KEY,              -- Theary's X-Event-Id
    tenant       TEXT NOT NULL,
    search_id    TEXT NOT NULL,                 -- ours
    event_type   TEXT NOT NULL,
    body         TEXT NOT NULL,                 -- the verified body
    received_at  BIGINT NOT NULL,
    applied      BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE tenant_polls (
    tenant       TEXT PRIMARY KEY,
    lease_until  BIGINT,
    lease_owner  TEXT,
    next_poll_at BIGINT NOT NULL DEFAULT 0
);
