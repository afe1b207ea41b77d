-- checkbridge schema, version 10: a check's order in a table of its own. The sealed order
-- (the candidate's data as sent to Theary, about 5 KB) made each checks row larger than a
-- page, and SQLite rewrites a whole row, overflow pages included, on every update: a
-- check's six or so small updates (claim, leases, acknowledgements, the order's reference)
-- each wrote two or three pages, and under a backlog the writer spent its time and the
-- disk its bandwidth on orders that had not changed. The order is written once at claim
-- (or when the candidate submits), read by the orderer and the report, and emptied by the
-- purge. Its sealed value keeps the place it was sealed for (checks.order_json), so
-- orders sealed before this migration open as before.
CREATE TABLE check_orders (
    check_id   TEXT PRIMARY KEY,
    tenant     TEXT NOT NULL,
    order_json TEXT
);
CREATE INDEX check_orders_tenant ON check_orders (tenant);
INSERT INTO check_orders (check_id, tenant, order_json)
    SELECT id, tenant, order_json FROM checks WHERE order_json IS NOT NULL;
ALTER TABLE checks DROP COLUMN order_json;
