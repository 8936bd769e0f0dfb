-- User Management records where each customer contact came from (which phone, which module,
-- which user): a reference back to CRM, so the module graph has a cycle that the migration
-- graph does not.
-- migrate:depends crm:0002, agendamento:0002
-- migrate:up
CREATE TABLE user_management.contact_origins (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES crm.customers (id),
    phone_field text NOT NULL CHECK (phone_field IN ('telefone', 'telefone2')),
    origin_module text NOT NULL CHECK (origin_module IN ('crm', 'agendamento', 'import')),
    recorded_by bigint REFERENCES user_management.users (id),
    recorded_at timestamptz NOT NULL DEFAULT now()
);
-- migrate:verify
SELECT to_regclass('user_management.contact_origins') IS NOT NULL;
-- migrate:down
DROP TABLE user_management.contact_origins;
