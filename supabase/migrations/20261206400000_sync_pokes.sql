-- MIRARI server schema: a poke over Supabase Realtime after every commit that changes a user's synced rows.
--
-- The poke is a Broadcast from the database (realtime.send) to the private topic 'sync:<user id>', event
-- 'changed', payload {"tables": [<table names>]} (realtime.send adds an "id"). It carries no row data: a
-- device that hears it runs its normal sync cycle, which pulls under RLS as always. One poke per owner per
-- transaction, never one per row:
--
-- 1. After each INSERT or UPDATE statement on a synced table, a statement-level trigger reads the
--    statement's rows (a transition table) and notes "<owner>:<table>" in the transaction-local setting
--    'mirari.poke' (once per owner and table). A statement that changed no row notes nothing.
-- 2. At commit, a deferred constraint trigger on mirari_private.sync_clock sends one poke per owner noted
--    and clears the note. Every transaction that changes a user's rows takes that user's clock row with
--    its first stamp (…120100_faster_stamps), which queues exactly such a deferred event, so the send costs
--    no write of its own; an update that changes nothing takes no stamp and sends nothing. A rolled-back
--    transaction sends nothing (realtime.send's row is rolled back with it). Realtime delivers after commit.
--
-- Cost per pushed row: the transition table (the messages' INSERT one existed already for live_parents)
-- and a `select distinct owner` over it, a fraction of a microsecond; per statement one trigger call; per
-- transaction one realtime.send (one insert into realtime.messages).
--
-- Who may hear it: realtime.messages gets a policy that lets an authenticated user join (read broadcasts
-- of) the private topic 'sync:<their own id>' only. Realtime checks it when the channel is joined and
-- whenever the client sends a new access token.
--
-- Needs Supabase Realtime's schema (realtime.messages, realtime.send), which every Supabase project has.

do $$
begin
  if to_regclass('realtime.messages') is null
     or to_regprocedure('realtime.send(jsonb, text, text, boolean)') is null then
    raise exception 'this database has no Supabase Realtime schema (realtime.messages, realtime.send)'
      using hint = 'Apply the migrations to a Supabase project (hosted or `supabase start`): Realtime creates it.';
  end if;
end
$$;

-- 1. Note the owners and table of a statement's rows.
create or replace function mirari_private.note_synced_change() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  noted text := coalesce(pg_catalog.current_setting('mirari.poke', true), '');
  owner uuid;
  entry text;
begin
  -- (separate branches: a column a table lacks must never be referenced)
  if tg_table_name = 'templates' then
    for owner in select distinct c.author_id from changed_rows c loop
      entry := owner::text || ':' || tg_table_name || ';';
      if pg_catalog.strpos(noted, entry) = 0 then
        noted := noted || entry;
      end if;
    end loop;
  else
    for owner in select distinct c.user_id from changed_rows c loop
      entry := owner::text || ':' || tg_table_name || ';';
      if pg_catalog.strpos(noted, entry) = 0 then
        noted := noted || entry;
      end if;
    end loop;
  end if;
  perform pg_catalog.set_config('mirari.poke', noted, true);
  return null;
end
$$;

-- 2. At commit: one poke per owner noted.
create or replace function mirari_private.send_sync_pokes() returns trigger
language plpgsql
security definer  -- realtime.send inserts into realtime.messages, which API roles may not write
set search_path = ''
as $$
declare
  noted text := coalesce(pg_catalog.current_setting('mirari.poke', true), '');
  owner text;
  tables jsonb;
begin
  if noted = '' then
    return null;  -- nothing noted, or already sent by an earlier event of this commit
  end if;
  perform pg_catalog.set_config('mirari.poke', '', true);
  for owner, tables in
    select pg_catalog.split_part(e, ':', 1),
           pg_catalog.jsonb_agg(distinct pg_catalog.split_part(e, ':', 2))
      from pg_catalog.unnest(pg_catalog.string_to_array(pg_catalog.rtrim(noted, ';'), ';')) as e
     group by 1
  loop
    perform realtime.send(pg_catalog.jsonb_build_object('tables', tables), 'changed', 'sync:' || owner, true);
  end loop;
  return null;
end
$$;

drop trigger if exists send_sync_pokes_at_commit on mirari_private.sync_clock;
create constraint trigger send_sync_pokes_at_commit after insert or update on mirari_private.sync_clock
  deferrable initially deferred
  for each row execute function mirari_private.send_sync_pokes();

-- The statement triggers, on every synced table (INSERT and UPDATE apart: a trigger with a transition
-- table may have one event only). Hard DELETE is refused to API roles (rows are tombstoned by UPDATE).
do $$
declare
  t text;
begin
  foreach t in array array['agent_connections', 'conversations', 'messages', 'memory_nodes', 'skills',
                           'mirror_reports', 'tasks', 'templates', 'dream_reports'] loop
    if to_regclass(format('public.%I', t)) is null then
      continue;
    end if;
    execute format('drop trigger if exists poke_after_insert on public.%I', t);
    execute format('create trigger poke_after_insert after insert on public.%I referencing new table as changed_rows'
                   ' for each statement execute function mirari_private.note_synced_change()', t);
    execute format('drop trigger if exists poke_after_update on public.%I', t);
    execute format('create trigger poke_after_update after update on public.%I referencing new table as changed_rows'
                   ' for each statement execute function mirari_private.note_synced_change()', t);
  end loop;
end
$$;

revoke all on function mirari_private.note_synced_change() from public, anon, authenticated, service_role;
revoke all on function mirari_private.send_sync_pokes() from public, anon, authenticated, service_role;

-- Who may join a user's sync topic: that user, signed in. (Permissive policies add up: a broader policy of
-- your own on realtime.messages would let more readers in.)
drop policy if exists "mirari sync pokes: users hear only their own" on realtime.messages;
create policy "mirari sync pokes: users hear only their own" on realtime.messages
  for select to authenticated
  using (
    realtime.messages.extension = 'broadcast'
    and (select realtime.topic()) = 'sync:' || (select auth.uid())::text
  );
