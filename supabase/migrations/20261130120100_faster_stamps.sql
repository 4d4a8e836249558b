-- MIRARI server schema: the same stamps and the same checks, at a fraction of the cost per pushed row.
--
-- Measured on a 500-row insert into messages (the sync client's bulk POST): the stamping trigger spent
-- ~60 µs per row in next_stamp — an upsert of the owner's clock row for every row, each one a new row
-- version the next one has to walk past — and the live-parent check ~50 µs per row on its own.
--
-- 1. next_stamp takes the owner's clock row once per transaction (the upsert, which locks it until
--    commit, exactly as before) and hands out the following stamps of that transaction from a
--    transaction-local setting: greatest(clock_timestamp(), previous + 1 µs), as before. The last one is
--    written back to the clock row at commit by a deferred constraint trigger on sync_clock (queued by
--    that first upsert), and immediately when the same transaction turns to another owner. So per owner
--    stamps stay unique and commit-ordered: the row lock is held from the first stamp to commit, and the
--    next transaction starts after the last stamp of this one.
-- 2. The messages' live-parent check (a message in a tombstoned conversation is refused with 23503) runs
--    once per INSERT statement over the inserted rows, instead of once per row; same error, same code.

-- The cache: 'mirari.stamp' = '<transaction id> <owner> <last stamp, UTC ISO 8601 with µs>', set with
-- is_local (gone at the transaction's end, rolled back with a savepoint). The transaction id keeps a value
-- set by anything but this transaction's own next_stamp from ever being trusted; the fixed format reads
-- back exactly whatever the session's DateStyle.
create or replace function mirari_private.flush_stamp() returns void
language plpgsql volatile
security definer  -- writes mirari_private.sync_clock, which no API role may touch
set search_path = ''
as $$
declare
  cached text := coalesce(pg_catalog.current_setting('mirari.stamp', true), '');
begin
  if cached <> '' then
    perform pg_catalog.set_config('mirari.stamp', '', true);
    if pg_catalog.split_part(cached, ' ', 1) = pg_catalog.pg_current_xact_id()::text then
      update mirari_private.sync_clock
         set last_stamp = greatest(last_stamp, (pg_catalog.split_part(cached, ' ', 3) || '+00')::timestamptz)
       where user_id = pg_catalog.split_part(cached, ' ', 2)::uuid;
    end if;
  end if;
end
$$;

create or replace function mirari_private.next_stamp(owner uuid) returns timestamptz
language plpgsql volatile
set search_path = ''
as $$
declare
  cached text := coalesce(pg_catalog.current_setting('mirari.stamp', true), '');
  xact text := pg_catalog.pg_current_xact_id()::text;
  stamp timestamptz;
begin
  if cached <> '' and pg_catalog.split_part(cached, ' ', 1) = xact
     and pg_catalog.split_part(cached, ' ', 2) = owner::text then
    -- This transaction holds the owner's clock row since its first stamp.
    stamp := greatest(pg_catalog.clock_timestamp(),
                      (pg_catalog.split_part(cached, ' ', 3) || '+00')::timestamptz + interval '1 microsecond');
  else
    perform mirari_private.flush_stamp();  -- another owner's last stamp goes to its clock row first
    insert into mirari_private.sync_clock as c (user_id, last_stamp)
    values (owner, pg_catalog.clock_timestamp())
    on conflict (user_id) do update
      set last_stamp = greatest(pg_catalog.clock_timestamp(), c.last_stamp + interval '1 microsecond')
    returning c.last_stamp into stamp;
  end if;
  perform pg_catalog.set_config('mirari.stamp', xact || ' ' || owner::text || ' '
    || pg_catalog.to_char(stamp at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), true);
  return stamp;
end
$$;

create or replace function mirari_private.flush_stamp_at_commit() returns trigger
language plpgsql volatile
security definer
set search_path = ''
as $$
begin
  perform mirari_private.flush_stamp();  -- a no-op once flushed (the update below queues one more call)
  return null;
end
$$;

drop trigger if exists flush_stamp_at_commit on mirari_private.sync_clock;
create constraint trigger flush_stamp_at_commit after insert or update on mirari_private.sync_clock
  deferrable initially deferred
  for each row execute function mirari_private.flush_stamp_at_commit();

-- 2. Messages: the live-parent check per statement.
create or replace function mirari_private.messages_need_live_parents() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  gone uuid;
begin
  select n.conversation_id into gone
    from new_messages n
    join public.conversations c on c.id = n.conversation_id and c.user_id = n.user_id
   where n.deleted_at is null and c.deleted_at is not null
   limit 1;
  if gone is not null then
    raise exception 'conversation % is deleted', gone
      using errcode = '23503', hint = 'The conversation was deleted (perhaps on another device).';
  end if;
  return null;
end
$$;

drop trigger if exists live_parents on public.messages;
create trigger live_parents after insert on public.messages
  referencing new table as new_messages
  for each statement execute function mirari_private.messages_need_live_parents();

revoke all on function mirari_private.flush_stamp() from public, anon, authenticated, service_role;
revoke all on function mirari_private.next_stamp(uuid) from public, anon, authenticated, service_role;
revoke all on function mirari_private.flush_stamp_at_commit() from public, anon, authenticated, service_role;
revoke all on function mirari_private.messages_need_live_parents() from public, anon, authenticated, service_role;
