-- checkbridge schema, version 1. Valid on SQLite and PostgreSQL alike: TEXT, BIGINT
-- (times in milliseconds since the epoch), no engine-specific types.
--
-- Owed work is a column, not a queue: a check owes an order while order_due_at is set, and
-- owes PageUp a document while desired_version > acked_version. A state change and the work
-- it makes owed are written in one transaction, so a crash can lose neither.

CREATE TABLE checks (
    id               TEXT PRIMARY KEY,          -- ours (UUID); part of report links
    tenant           TEXT NOT NULL,             -- our tenant key
    pageup_id        TEXT NOT NULL,             -- PageUp's check id
    phase            TEXT NOT NULL,             -- claimed | ordered | failed | cancelled
    reference        TEXT,                      -- Theary's verificationOrderId
    reason           TEXT,                      -- reasonForFail, in a recruiter's words
    order_json       TEXT,                      -- the order to POST, built once at claim
    webhook_secret   TEXT NOT NULL,             -- per-order HMAC key
    order_due_at     BIGINT,                    -- when the orderer owes work (NULL: none)
    order_attempts   BIGINT NOT NULL DEFAULT 0, -- POSTs started (>0: look up before posting)
    lease_until      BIGINT,                    -- work lease (orderer)
    lease_owner      TEXT,
    last_error       TEXT,
    desired_version  BIGINT NOT NULL DEFAULT 1, -- bumped by every change PageUp should see
    acked_version    BIGINT NOT NULL DEFAULT 0, -- version PageUp last acknowledged
    acked_at         BIGINT,
    push_due_at      BIGINT,                    -- earliest next push (backoff after failure)
    push_attempts    BIGINT NOT NULL DEFAULT 0,
    push_error       TEXT,
    push_lease_until BIGINT,                    -- work lease (pusher)
    push_lease_owner TEXT,
    pii_purged_at    BIGINT,                    -- candidate data removed (retention)
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (tenant, pageup_id)
);
CREATE INDEX checks_order_due ON checks (order_due_at) WHERE order_due_at IS NOT NULL;
CREATE INDEX checks_push_owed ON checks (push_due_at) WHERE desired_version > acked_version;
CREATE INDEX checks_tenant ON checks (tenant, created_at);

CREATE TABLE searches (
    id               TEXT PRIMARY KEY,          -- ours (UUID), sent as externalSearchId
    check_id         TEXT NOT NULL REFERENCES checks (id),
    tenant           TEXT NOT NULL,
    search_type      TEXT NOT NULL,
    theary_search_id TEXT,                      -- bare UUID, prefix stripped, once known
    outcome          TEXT NOT NULL,             -- open | action_required | completed | cancelled
    outcome_rank     BIGINT NOT NULL DEFAULT 0, -- 0 open, 1 action_required, 2 terminal
    result_outcome   TEXT,                      -- Theary's outcome (VERIFIED, ...)
    discrepancy      BIGINT NOT NULL DEFAULT 0,
    reason_code      TEXT,                      -- Theary's reason code (action_required)
    result           TEXT,                      -- last result event data (JSON)
    last_event_at    BIGINT,
    reconcile_at     BIGINT,                    -- when the reconciler should look (open only)
    updated_at       BIGINT NOT NULL,
    UNIQUE (tenant, theary_search_id)
);
CREATE INDEX searches_check ON searches (check_id);
CREATE INDEX searches_reconcile ON searches (reconcile_at) WHERE outcome_rank < 2;

CREATE TABLE webhook_events (
    event_id     TEXT PRIMARY KEY,              -- Theary's X-Event-Id (or a body digest)
    tenant       TEXT NOT NULL,
    search_id    TEXT NOT NULL,                 -- ours
    event_type   TEXT NOT NULL,
    body         TEXT NOT NULL,                 -- the verified body
    received_at  BIGINT NOT NULL,
    changed      BIGINT NOT NULL DEFAULT 0      -- 1 when it moved its search forward
);
CREATE INDEX webhook_events_search ON webhook_events (tenant, search_id);

CREATE TABLE tenant_polls (
    tenant       TEXT PRIMARY KEY,
    lease_until  BIGINT,
    lease_owner  TEXT,
    next_poll_at BIGINT NOT NULL DEFAULT 0,
    last_error   TEXT
);
CREATE INDEX tenant_polls_due ON tenant_polls (next_poll_at);

-- Tenants' data keys, wrapped by a master key that is never stored here. Destroying a
-- tenant's keys (wrapped emptied, destroyed_at set) makes its sealed data unreadable.
CREATE TABLE tenant_keys (
    tenant        TEXT NOT NULL,
    version       BIGINT NOT NULL,
    master_key_id TEXT NOT NULL,
    wrapped       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    destroyed_at  BIGINT,
    PRIMARY KEY (tenant, version)
);

-- Who procured and who viewed each check's data. Append-only: rows are only ever deleted
-- by retention, never changed.
CREATE TABLE access_log (
    id        TEXT PRIMARY KEY,
    tenant    TEXT NOT NULL,
    check_id  TEXT NOT NULL,
    actor     TEXT NOT NULL,                    -- service:poller, service:orderer, operator:..., viewer:...
    action    TEXT NOT NULL,                    -- procured | ordered | purged | report_viewed | ...
    at        BIGINT NOT NULL
);
CREATE INDEX access_log_tenant ON access_log (tenant, at);

-- People who may read reports: each belongs to one tenant. Passwords are argon2id hashes.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    tenant        TEXT NOT NULL,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    disabled_at   BIGINT
);

-- Signed-in sessions. Only a SHA-256 of the cookie's token is kept, so a copy of this table
-- signs no one in.
CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);

-- Failed outbound calls and refused inbound requests, per tenant, for operators and for
-- PageUp support. Messages are the partner's error text, never secrets or candidate data.
CREATE TABLE error_log (
    id          TEXT PRIMARY KEY,
    tenant      TEXT NOT NULL,
    at          BIGINT NOT NULL,
    operation   TEXT NOT NULL,                 -- pageup.list | pageup.update | theary.order | ...
    http_status BIGINT,
    message     TEXT NOT NULL,
    correlation TEXT NOT NULL,                 -- our id for the call (check id, or a fresh id)
    check_id    TEXT
);
CREATE INDEX error_log_tenant ON error_log (tenant, at);
