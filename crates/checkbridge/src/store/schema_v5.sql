-- checkbridge schema, version 5: API tokens for the admin HTTP API (/api/v1).
--
-- A token is shown once, when it is made; only the SHA-256 of its text is kept (tokens are
-- 32 random bytes, so a plain digest is enough and a copy of this table opens nothing).
-- tenant is '*' for an operator's token (every tenant) or the one tenant the token may see.
-- scope is 'read' (GET) or 'operate' (read, and retry or cancel checks). A revoked token
-- keeps its row (revoked_at set), so the access record's actor stays explained.
CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    tenant       TEXT NOT NULL,
    scope        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    created_by   TEXT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);

-- What an access-record entry was, beyond its action (for API use: the method, the path
-- and the status answered). NULL for the entries that need none.
ALTER TABLE access_log ADD COLUMN detail TEXT;
