-- checkbridge schema, version 3: what a stranger on the internet can cost the service.

-- A digest of each verified webhook body, keyed with its order's secret: Theary's signature
-- covers neither an event id nor a time, so the same signed body under a fresh X-Event-Id is
-- a replay, and a duplicate. NULL for events stored before this version (NULLs never clash).
ALTER TABLE webhook_events ADD COLUMN body_digest TEXT;
CREATE UNIQUE INDEX webhook_events_digest ON webhook_events (tenant, search_id, body_digest);

-- Where an error-log row came from: 'partner' (a PageUp or Theary call failed, or our side
-- failed; kept the tenant's records_days, for PageUp support) or 'refused' (a request
-- nobody authenticated was refused; a fixed-size summary, rate-limited per tenant and kept
-- [http].refused_log_hours).
ALTER TABLE error_log ADD COLUMN source TEXT NOT NULL DEFAULT 'partner';
CREATE INDEX error_log_source ON error_log (source, at);

-- One value sealed under the master key at first start: a replica given another key
-- refuses to start instead of failing on every sealed value it reads.
CREATE TABLE key_check (
    id         BIGINT PRIMARY KEY,              -- always 1
    key_id     TEXT NOT NULL,                   -- the master key's id that sealed it
    sealed     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
