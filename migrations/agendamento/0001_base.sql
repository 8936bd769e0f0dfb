-- Agendamento: appointments of CRM customers with User Management professionals.
-- migrate:depends crm:0001, user_management:0001
-- migrate:up
CREATE SCHEMA agendamento;
CREATE TABLE agendamento.appointments (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES crm.customers (id),
    professional_id bigint NOT NULL REFERENCES user_management.users (id),
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    status text NOT NULL DEFAULT 'scheduled'
        CHECK (status IN ('scheduled', 'confirmed', 'done', 'cancelled')),
    CHECK (ends_at > starts_at)
);
CREATE INDEX appointments_customer_idx ON agendamento.appointments (customer_id);
-- migrate:verify
SELECT to_regclass('agendamento.appointments') IS NOT NULL;
-- migrate:down
DROP TABLE agendamento.appointments;
DROP SCHEMA agendamento;
