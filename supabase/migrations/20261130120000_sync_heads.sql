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
--
-- The synced tables are found in the catalog (every table in public with an updated_at and an owner
-- column, author_id or user_id, that the caller may read), so a table added by a later migration is
-- covered without touching this function.

create or replace function public.sync_heads() returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  t record;
  head timestamptz;
  heads jsonb := '{}';
begin
  for t in
    select c.relname as name,
           case when exists (select 1 from pg_catalog.pg_attribute a
                              where a.attrelid = c.oid and a.attname = 'author_id' and not a.attisdropped)
                then 'author_id' else 'user_id' end as owner
      from pg_catalog.pg_class c
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'public' and c.relkind in ('r', 'p')
       and exists (select 1 from pg_catalog.pg_attribute a
                    where a.attrelid = c.oid and a.attname = 'updated_at' and not a.attisdropped)
       and exists (select 1 from pg_catalog.pg_attribute a
                    where a.attrelid = c.oid and a.attname in ('user_id', 'author_id') and not a.attisdropped)
       and pg_catalog.has_table_privilege(c.oid, 'SELECT')
     order by c.relname
  loop
    execute pg_catalog.format('select max(updated_at) from public.%I where %I = (select auth.uid())',
                              t.name, t.owner)
       into head;
    heads := heads || pg_catalog.jsonb_build_object(t.name, head);
  end loop;
  return heads;
end
$$;

comment on function public.sync_heads() is
  'For the caller: each synced table''s newest updated_at (null if none), so an idle sync is one request.';

revoke all on function public.sync_heads() from public, anon, authenticated, service_role;
grant execute on function public.sync_heads() to authenticated, service_role;
