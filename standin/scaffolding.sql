-- Supabase scaffolding that supabase/migrations/ relies on, for a bare PostgreSQL 15 database.
--
-- On a real Supabase project all of this already exists (created by supabase/postgres and GoTrue);
-- here it is recreated from what those create so the migrations and RLS behave as they do there.
-- Run as the cluster superuser, once per fresh database. Roles are cluster-wide, so their creation is
-- guarded and the file can run again in another database of the same cluster.
--
-- Grants follow the 2026 regime (Supabase changelog #45329): NO default privileges on schema public,
-- so every table and function in the migrations must be granted explicitly.
-- The auth tables of sessions/refresh tokens belong to the Supabase stand-in, not to this file.

-- -- roles ---------------------------------------------------------------------------------------
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin bypassrls;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit;
  end if;
end
$$;

-- API roles are INHERIT (since 2023); authenticator stays NOINHERIT: it gains rights only by
-- SET ROLE, as PostgREST does per request.
grant anon, authenticated, service_role to authenticator;
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';
alter role authenticator set statement_timeout = '8s';
alter role authenticator set lock_timeout = '8s';

-- -- database settings --------------------------------------------------------------------------
do $$
begin
  execute format('alter database %I set timezone = %L', current_database(), 'UTC');
end
$$;
set timezone = 'UTC';

-- -- schemas and grants -------------------------------------------------------------------------
grant usage on schema public to anon, authenticated, service_role;

create schema if not exists extensions;
grant usage on schema extensions to anon, authenticated, service_role;
-- pgcrypto lives in `extensions` on Supabase (crypt()/gen_salt() for password hashes in SQL).
create extension if not exists pgcrypto with schema extensions;

create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role;

-- -- auth.users (the columns that matter) ----------------------------------------------------------
create table if not exists auth.users (
  id uuid primary key,
  aud varchar(255) default 'authenticated',
  role varchar(255) default 'authenticated',
  email varchar(255),
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  phone text default null,
  phone_confirmed_at timestamptz,
  confirmed_at timestamptz generated always as (least(email_confirmed_at, phone_confirmed_at)) stored,
  last_sign_in_at timestamptz,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  is_anonymous boolean not null default false,
  banned_until timestamptz,
  deleted_at timestamptz,
  created_at timestamptz default now(),
  updated_at timestamptz default now()
);
create unique index if not exists users_email_key on auth.users (email) where email is not null;
-- GoTrue: RLS on, no policies, API roles get nothing (they cannot read auth.users via PostgREST).
alter table auth.users enable row level security;
revoke all on auth.users from public, anon, authenticated, service_role;

-- -- auth helper functions: today's bodies (supabase/auth 20220224000811, 20220531120530) ----------
create or replace function auth.uid() returns uuid
language sql stable as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;
comment on function auth.uid() is 'Deprecated. Use auth.jwt() -> ''sub'' instead.';

create or replace function auth.role() returns text
language sql stable as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;
comment on function auth.role() is 'Deprecated. Use auth.jwt() -> ''role'' instead.';

create or replace function auth.email() returns text
language sql stable as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
  )::text
$$;
comment on function auth.email() is 'Deprecated. Use auth.jwt() -> ''email'' instead.';

create or replace function auth.jwt() returns jsonb
language sql stable as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

-- Functions are EXECUTE-able by PUBLIC by default; say so explicitly for the API roles.
grant execute on function auth.uid(), auth.role(), auth.email(), auth.jwt()
  to anon, authenticated, service_role;

-- Realtime's publication exists (empty) on every Supabase project.
do $$
begin
  if not exists (select 1 from pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
  end if;
end
$$;

-- -- Realtime's schema (supabase/realtime's tenant migrations, squashed 2026-04: the parts a project's own
-- SQL touches) ------------------------------------------------------------------------------------------
-- realtime.messages (partitioned by day on Supabase; here one default partition), realtime.topic() and
-- realtime.send(), with Supabase's owner, grants and row-level security (on, no policies: a project adds
-- its own). Everything here is idempotent, so a database kept from an earlier run (--data-dir) gets it by
-- running this file again.
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'supabase_realtime_admin') then
    create role supabase_realtime_admin noinherit nologin noreplication;
  end if;
end
$$;
grant supabase_realtime_admin to postgres;

create schema if not exists realtime;
grant usage on schema realtime to postgres, anon, authenticated, service_role, supabase_realtime_admin;
grant create on schema realtime to supabase_realtime_admin;

create table if not exists realtime.messages (
  topic text not null,
  extension text not null,
  payload jsonb,
  event text,
  private boolean default false,
  updated_at timestamp without time zone default now() not null,
  inserted_at timestamp without time zone default now() not null,
  id uuid default gen_random_uuid() not null,
  constraint messages_pkey primary key (id, inserted_at)
) partition by range (inserted_at);
create table if not exists realtime.messages_default partition of realtime.messages default;
create index if not exists messages_inserted_at_topic_index on realtime.messages (inserted_at desc, topic)
  where extension = 'broadcast' and private is true;
alter table realtime.messages owner to supabase_realtime_admin;
alter table realtime.messages_default owner to supabase_realtime_admin;
alter table realtime.messages enable row level security;
grant select, insert, update on realtime.messages to postgres, anon, authenticated, service_role;
grant delete, truncate, references, trigger on realtime.messages to postgres;

create or replace function realtime.topic() returns text
language sql stable
as $$
  select nullif(current_setting('realtime.topic', true), '')::text;
$$;
alter function realtime.topic() owner to supabase_realtime_admin;

create or replace function realtime.send(payload jsonb, event text, topic text, private boolean default true)
returns void
language plpgsql
as $$
declare
  generated_id uuid;
  final_payload jsonb;
begin
  begin
    generated_id := gen_random_uuid();
    if payload ? 'id' then
      final_payload := payload;
    else
      final_payload := jsonb_set(payload, '{id}', to_jsonb(generated_id));
    end if;
    execute format('SET LOCAL realtime.topic TO %L', topic);
    insert into realtime.messages (id, payload, event, topic, private, extension)
    values (generated_id, final_payload, event, topic, private, 'broadcast');
  exception
    when others then
      raise warning 'ErrorSendingBroadcastMessage: %', sqlerrm;
  end;
end;
$$;
alter function realtime.send(jsonb, text, text, boolean) owner to supabase_realtime_admin;

-- The stand-in's own delivery path (not Supabase's, which decodes the WAL of realtime.messages): each
-- committed broadcast row is NOTIFYed on `realtime_messages`, and the stand-in LISTENs and fans it out.
-- NOTIFY is delivered at commit only, in commit order, and never for a rolled-back row (the join checks
-- insert probe rows and roll back). A payload too big for NOTIFY (8000 bytes) is sent by id.
create or replace function realtime.standin_notify() returns trigger
language plpgsql
as $$
declare
  message text;
begin
  if new.extension <> 'broadcast' then
    return null;
  end if;
  message := json_build_object('id', new.id, 'topic', new.topic, 'event', new.event, 'private', new.private,
                               'payload', new.payload)::text;
  if octet_length(message) > 7900 then
    message := json_build_object('id', new.id, 'inserted_at', new.inserted_at, 'by_id', true)::text;
  end if;
  perform pg_notify('realtime_messages', message);
  return null;
end;
$$;
drop trigger if exists standin_notify on realtime.messages;
create trigger standin_notify after insert on realtime.messages
  for each row execute function realtime.standin_notify();
