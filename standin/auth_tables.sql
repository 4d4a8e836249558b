-- Sessions and refresh tokens for the stand-in's GoTrue subset (docs/standin.md, "GoTrue": sessions, and refresh tokens rotated with GoTrue's reuse rules).
-- Applied after the scaffolding; only the stand-in's own (superuser) connection touches them.
create extension if not exists pgcrypto;

create table if not exists auth.sessions (
    id uuid primary key,
    user_id uuid not null references auth.users(id) on delete cascade,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    refreshed_at timestamptz,
    aal text not null default 'aal1',
    amr jsonb not null default '[]'
);

create table if not exists auth.refresh_tokens (
    id bigserial primary key,
    token text not null unique,
    user_id uuid not null references auth.users(id) on delete cascade,
    session_id uuid not null references auth.sessions(id) on delete cascade,
    parent text,
    revoked boolean not null default false,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index if not exists refresh_tokens_session_idx on auth.refresh_tokens (session_id);
create index if not exists refresh_tokens_parent_idx on auth.refresh_tokens (parent);

alter table auth.sessions enable row level security;
alter table auth.refresh_tokens enable row level security;
