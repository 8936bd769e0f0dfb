-- Agendamento notifies customers with upcoming appointments on telefone2: it logs the
-- notifications, reads both phones through a view, and hears about changes through a trigger.
-- migrate:depends crm:0002
-- migrate:up
CREATE TABLE agendamento.contact_notifications (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    appointment_id bigint NOT NULL REFERENCES agendamento.appointments (id) ON DELETE CASCADE,
    customer_id bigint NOT NULL REFERENCES crm.customers (id),
    channel text NOT NULL CHECK (channel IN ('telefone', 'telefone2', 'email')),
    sent_at timestamptz NOT NULL DEFAULT now()
);
CREATE VIEW agendamento.appointment_contacts AS
    SELECT a.id AS appointment_id, a.starts_at, c.id AS customer_id, c.name,
           c.telefone, c.telefone2
    FROM agendamento.appointments a
    JOIN crm.customers c ON c.id = a.customer_id;
CREATE FUNCTION agendamento.notify_telefone2_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.telefone2 IS DISTINCT FROM OLD.telefone2 THEN
        PERFORM pg_notify('agendamento_contact_changed', NEW.id::text);
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER customers_telefone2_changed
    AFTER UPDATE OF telefone2 ON crm.customers
    FOR EACH ROW EXECUTE FUNCTION agendamento.notify_telefone2_change();
-- migrate:verify
SELECT count(*) = 1 FROM pg_trigger
WHERE tgname = 'customers_telefone2_changed' AND tgrelid = 'crm.customers'::regclass;
-- migrate:down
DROP TRIGGER customers_telefone2_changed ON crm.customers;
DROP FUNCTION agendamento.notify_telefone2_change();
DROP VIEW agendamento.appointment_contacts;
DROP TABLE agendamento.contact_notifications;
