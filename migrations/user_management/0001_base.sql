-- User Management: the ERP's users; every other module points at them.
-- migrate:up
CREATE SCHEMA user_management;
CREATE TABLE user_management.users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL UNIQUE,
    full_name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- migrate:verify
SELECT to_regclass('user_management.users') IS NOT NULL;
-- migrate:down
DROP TABLE user_management.users;
DROP SCHEMA user_management;
