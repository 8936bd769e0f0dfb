-- Look-ups by the second phone. CREATE INDEX CONCURRENTLY cannot run in a transaction: the
-- coordinator runs it after the plan's transaction commits, then checks the index is valid.
-- migrate:transactional false
-- migrate:up
CREATE INDEX CONCURRENTLY IF NOT EXISTS customers_telefone2_idx ON crm.customers (telefone2);
-- migrate:verify
SELECT indisvalid FROM pg_index WHERE indexrelid = 'crm.customers_telefone2_idx'::regclass;
-- migrate:down
DROP INDEX CONCURRENTLY IF EXISTS crm.customers_telefone2_idx;
