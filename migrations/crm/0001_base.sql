-- CRM: customers, each owned by a user of User Management (cross-module foreign key).
-- migrate:depends user_management:0001
-- migrate:up
CREATE SCHEMA crm;
CREATE TABLE crm.customers (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id bigint NOT NULL REFERENCES user_management.users (id),
    name text NOT NULL,
    email text,
    telefone text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customers_owner_idx ON crm.customers (owner_id);
-- migrate:verify
SELECT to_regclass('crm.customers') IS NOT NULL;
-- migrate:down
DROP TABLE crm.customers;
DROP SCHEMA crm;
