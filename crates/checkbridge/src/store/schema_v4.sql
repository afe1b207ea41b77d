-- checkbridge schema, version 4: failed sign-ins, shared by every replica.
--
-- One row per scope ('name': a lower-cased user name; 'address': a client address) and key,
-- the key stored only as a SHA-256 (a name may be anything a visitor typed, of any length;
-- rows stay small and say nothing of who tried). failures counts within the window that
-- began at window_start; when it reaches the limit, locked_until is set and sign-ins of
-- that key are refused until then. Rows whose window and lock have passed are deleted.
CREATE TABLE login_failures (
    scope        TEXT NOT NULL,
    key_hash     TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    failures     BIGINT NOT NULL,
    locked_until BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, key_hash)
);
CREATE INDEX login_failures_window ON login_failures (window_start);

-- Every change to a user (disabled, enabled, removed, password reset), by whom and when,
-- kept after the user is removed.
CREATE TABLE user_changes (
    id       TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    action   TEXT NOT NULL,        -- disabled | enabled | removed | password_reset | sessions_revoked
    actor    TEXT NOT NULL,        -- cli:<os user> or user:<name>
    at       BIGINT NOT NULL
);
CREATE INDEX user_changes_username ON user_changes (username, at);

-- Sessions end after idle_ms without a request (NULL: only at expires_at, the absolute
-- limit). last_seen_at is refreshed at most once a minute.
ALTER TABLE sessions ADD COLUMN idle_ms BIGINT;
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT;
