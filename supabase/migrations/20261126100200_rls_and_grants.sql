-- MIRARI server schema, part 3: row-level security and explicit grants.
--
-- Supabase stopped auto-granting new public tables to the API roles in 2026, and older projects still
-- auto-grant everything (including DELETE). So every privilege is stated here: first revoke all, then
-- grant exactly what is meant. That gives the same result under both regimes.
--
-- authenticated: select / insert / update own rows. No DELETE privilege and no delete policy: clients
--   delete by setting deleted_at (a tombstone), so every device learns about the deletion.
-- service_role:  everything (it bypasses RLS; used by maintenance jobs, e.g. purging old tombstones).
-- anon:          nothing on user tables.
-- Policies use `(select auth.uid())` so the uid is evaluated once per statement (an initplan), which
-- keeps the (owner, updated_at) index usable for the pull.

-- -- internals -------------------------------------------------------------------------------------
revoke all on schema mirari_private from public, anon, authenticated, service_role;
revoke all on all tables in schema mirari_private from public, anon, authenticated, service_role;
revoke all on function mirari_private.next_stamp(uuid) from public, anon, authenticated, service_role;
revoke all on function mirari_private.stamp_row() from public, anon, authenticated, service_role;
revoke all on function mirari_private.cascade_tombstone() from public, anon, authenticated, service_role;
revoke all on function mirari_private.respect_tombstoned_parents() from public, anon, authenticated, service_role;
alter table mirari_private.sync_clock enable row level security;

-- -- user-owned tables -----------------------------------------------------------------------------
do $$
declare
  t text;
begin
  foreach t in array array['agent_connections', 'conversations', 'messages', 'memory_nodes', 'skills',
                           'mirror_reports', 'tasks']
  loop
    execute format('alter table public.%I enable row level security', t);
    execute format('revoke all on table public.%I from public, anon, authenticated, service_role', t);
    execute format('grant select, insert, update on table public.%I to authenticated', t);
    execute format('grant all on table public.%I to service_role', t);

    execute format('drop policy if exists %I on public.%I', t || '_select_own', t);
    execute format('create policy %I on public.%I for select to authenticated
                      using ((select auth.uid()) = user_id)', t || '_select_own', t);
    execute format('drop policy if exists %I on public.%I', t || '_insert_own', t);
    execute format('create policy %I on public.%I for insert to authenticated
                      with check ((select auth.uid()) = user_id)', t || '_insert_own', t);
    execute format('drop policy if exists %I on public.%I', t || '_update_own', t);
    execute format('create policy %I on public.%I for update to authenticated
                      using ((select auth.uid()) = user_id)
                      with check ((select auth.uid()) = user_id)', t || '_update_own', t);
  end loop;
end
$$;

-- -- templates: own rows, plus public live rows readable by any signed-in user ------------------------
alter table public.templates enable row level security;
revoke all on table public.templates from public, anon, authenticated, service_role;
grant select, insert, update on table public.templates to authenticated;
grant all on table public.templates to service_role;

create policy templates_select_own_or_public on public.templates for select to authenticated
  using ((select auth.uid()) = author_id or (is_public and deleted_at is null));
create policy templates_insert_own on public.templates for insert to authenticated
  with check ((select auth.uid()) = author_id);
create policy templates_update_own on public.templates for update to authenticated
  using ((select auth.uid()) = author_id)
  with check ((select auth.uid()) = author_id);
