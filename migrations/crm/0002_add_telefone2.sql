-- CRM adds a second phone number. The format check is added NOT VALID, then validated, so
-- the table is not locked for a full scan under ACCESS EXCLUSIVE.
-- migrate:up
ALTER TABLE crm.customers ADD COLUMN telefone2 text;
ALTER TABLE crm.customers
    ADD CONSTRAINT customers_telefone2_format
    CHECK (telefone2 IS NULL OR telefone2 ~ '^\+?[0-9 ()-]{8,20}$') NOT VALID;
ALTER TABLE crm.customers VALIDATE CONSTRAINT customers_telefone2_format;
-- migrate:verify
SELECT EXISTS (
    SELECT 1 FROM information_schema.columns
    WHERE table_schema = 'crm' AND table_name = 'customers' AND column_name = 'telefone2'
);
-- migrate:down
ALTER TABLE crm.customers DROP CONSTRAINT customers_telefone2_format;
ALTER TABLE crm.customers DROP COLUMN telefone2;
