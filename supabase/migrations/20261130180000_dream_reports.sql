-- MIRARI server schema: Dream Mode reports (rite VII).
--
-- A dream (consolidate, replay or stress test) runs on one device while its user is away and only ever
-- PROPOSES changes; the report keeps what it found, what it proposes and what the user decided, so the
-- decision reaches every device. Same sync shape as the other tables (stamping trigger, tombstones,
-- RLS to the owner, explicit grants), and bounded sizes so one bad client cannot store megabytes.
--
-- proposals = [ { "id": "<short id>", "kind": "merge" | "keep_one" | "delete" | "reword" | "demote"
--                 | "edit", "state": "open" | "accepted" | "rejected", ... } ]
-- budget    = { "max_requests": n, "max_chars": n, "requests": n, "chars": n }

create table public.dream_reports (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  agent_connection_id uuid,
  kind text not null,
  status text not null default 'running',
  started_at timestamptz not null,
  finished_at timestamptz,
  summary text,
  budget jsonb not null default '{}',
  findings jsonb not null default '[]',
  proposals jsonb not null default '[]',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz,
  constraint dream_reports_agent_connection_fkey foreign key (agent_connection_id, user_id)
    references public.agent_connections (id, user_id) on delete set null (agent_connection_id),
  constraint dream_reports_kind_check check (kind in ('consolidate', 'replay', 'stress')),
  constraint dream_reports_status_check
    check (status in ('running', 'done', 'partial', 'cancelled', 'failed', 'interrupted')),
  constraint dream_reports_shape check (coalesce(
    jsonb_typeof(budget) = 'object'
    and jsonb_typeof(findings) = 'array'
    and jsonb_typeof(proposals) = 'array'
    and not jsonb_path_exists(proposals,
      '$[*] ? (@.type() != "object" || !exists(@.state) || !(@.state == "open" || @.state == "accepted" || @.state == "rejected"))'),
    false)),
  constraint dream_reports_size check (
    octet_length(budget::text) + octet_length(findings::text) + octet_length(proposals::text) <= 500000),
  constraint dream_reports_summary_length check (char_length(summary) <= 20000)
);

create unique index dream_reports_owner_updated_at on public.dream_reports (user_id, updated_at);
create index dream_reports_agent_connection_id on public.dream_reports (agent_connection_id)
  where agent_connection_id is not null;

create trigger stamp_row before insert or update on public.dream_reports
  for each row execute function mirari_private.stamp_row();
-- the generic branch of respect_tombstoned_parents() handles agent_connection_id (a reference to a
-- deleted connection is stored as null)
create trigger live_parents before insert or update on public.dream_reports
  for each row execute function mirari_private.respect_tombstoned_parents();

-- A deleted connection clears the references to it: dream_reports joins the tables the cascade covers.
create or replace function mirari_private.cascade_tombstone() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_table_name = 'conversations' then
    update public.messages set deleted_at = new.deleted_at
     where conversation_id = new.id and user_id = new.user_id and deleted_at is null;
  elsif tg_table_name = 'agent_connections' then
    update public.conversations set agent_connection_id = null
     where agent_connection_id = new.id and user_id = new.user_id;
    update public.tasks set connection_id = null
     where connection_id = new.id and user_id = new.user_id;
    update public.mirror_reports set agent_connection_id = null
     where agent_connection_id = new.id and user_id = new.user_id;
    update public.dream_reports set agent_connection_id = null
     where agent_connection_id = new.id and user_id = new.user_id;
  end if;
  return null;
end
$$;
revoke all on function mirari_private.cascade_tombstone() from public, anon, authenticated, service_role;

alter table public.dream_reports enable row level security;
revoke all on table public.dream_reports from public, anon, authenticated, service_role;
grant select, insert, update on table public.dream_reports to authenticated;
grant all on table public.dream_reports to service_role;
create policy dream_reports_select_own on public.dream_reports for select to authenticated
  using ((select auth.uid()) = user_id);
create policy dream_reports_insert_own on public.dream_reports for insert to authenticated
  with check ((select auth.uid()) = user_id);
create policy dream_reports_update_own on public.dream_reports for update to authenticated
  using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id);
