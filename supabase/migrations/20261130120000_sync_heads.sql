-- MIRARI server schema: sync_heads() — an idle sync in one request.
--
-- Returns, for the caller, each synced table's newest updated_at (null when the caller has no row in it),
-- as one JSON object {"agent_connections": "2026-…+00:00" | null, …}. A client compares each head with
-- its pull cursor and pulls only the tables whose head moved, so a cycle with nothing to do costs this
-- one request instead of one GET per table.
--
-- Security invoker: it reads as the caller, so RLS applies exactly as to a GET. The explicit owner filter
-- (the same one a pull sends) keeps other authors' public templates out — their stamps follow their
-- authors' clocks — and makes each max() one backward step of the (owner, updated_at) unique index.
-- Stamps are unique and commit-ordered per user (sync_stamping), so "head == cursor" means there is no row
-- after the cursor, and a row committed after this call gets a later stamp and moves the head.

create or replace function public.sync_heads() returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object(
    'agent_connections', (select max(t.updated_at) from public.agent_connections t where t.user_id = (select auth.uid())),
    'conversations', (select max(t.updated_at) from public.conversations t where t.user_id = (select auth.uid())),
    'messages', (select max(t.updated_at) from public.messages t where t.user_id = (select auth.uid())),
    'memory_nodes', (select max(t.updated_at) from public.memory_nodes t where t.user_id = (select auth.uid())),
    'skills', (select max(t.updated_at) from public.skills t where t.user_id = (select auth.uid())),
    'mirror_reports', (select max(t.updated_at) from public.mirror_reports t where t.user_id = (select auth.uid())),
    'tasks', (select max(t.updated_at) from public.tasks t where t.user_id = (select auth.uid())),
    'templates', (select max(t.updated_at) from public.templates t where t.author_id = (select auth.uid()))
  )
$$;

comment on function public.sync_heads() is
  'For the caller: each synced table''s newest updated_at (null if none), so an idle sync is one request.';

revoke all on function public.sync_heads() from public, anon, authenticated, service_role;
grant execute on function public.sync_heads() to authenticated, service_role;
