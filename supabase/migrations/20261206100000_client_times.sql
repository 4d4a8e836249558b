-- MIRARI server schema: the times a client chooses are kept, within bounds.
--
-- 1. created_at is the moment the user made the row, on the device that made it. Until now stamp_row
--    replaced it with the insert's stamp, so a first sync dated weeks of offline history "today" on
--    every device. Now, on INSERT, the client's value is kept, clamped to
--        [1970-01-01 00:00:00+00, the insert's stamp + 5 minutes]
--    (the upper bound: nobody forges the future, and 5 minutes absorbs an ordinary clock skew between a
--    device and the server; the lower bound keeps '-infinity' and year-0001 values out of every client's
--    arithmetic). An insert without created_at (an older client) gets the insert's stamp, as before: the
--    column default is dropped so that "not sent" can be told from "sent". On UPDATE created_at is kept
--    whatever a client sends, as before. updated_at (the sync cursor) and deleted_at stay the server's
--    commit-ordered stamps.
-- 2. messages.seq (the thread order the writing device chooses, …100000_message_order) is kept on INSERT
--    only up to the insert's stamp + 1 day, in µs; a larger value is stored as that bound. Before, one
--    message with seq = 2^63-1 left every device unable to add a message to its thread (the next seq,
--    "largest + 1", no longer fits a bigint). The bound grows with each stamp, which is strictly
--    increasing per user, so rows clamped in one statement keep the order they were sent in.
--
-- Everything else is stamp_row as …210000_cheaper_stamp_row left it (same caller cache, same inline
-- stamps, same refusals); the INSERT branch gains two comparisons, nothing per-row beyond them.

alter table public.agent_connections alter column created_at drop default;
alter table public.conversations alter column created_at drop default;
alter table public.messages alter column created_at drop default;
alter table public.memory_nodes alter column created_at drop default;
alter table public.skills alter column created_at drop default;
alter table public.mirror_reports alter column created_at drop default;
alter table public.tasks alter column created_at drop default;
alter table public.templates alter column created_at drop default;
alter table public.dream_reports alter column created_at drop default;

create or replace function mirari_private.stamp_row() returns trigger
language plpgsql
security definer  -- writes mirari_private.sync_clock, which no API role may touch
set search_path = ''
as $$
declare
  caller uuid;
  sub text;
  claims text;
  known text;
  new_owner uuid;
  tombstoning boolean := false;
  stamp timestamptz;
  xact text;
  cached text;
  seq_bound bigint;
begin
  if tg_table_name = 'templates' then
    if tg_op = 'INSERT' then
      new.installs := 0;
    elsif pg_catalog.current_setting('mirari.counting_install', true) is distinct from 'on' then
      new.installs := old.installs;
    end if;
  end if;

  if tg_op = 'INSERT' then
    -- auth.uid(), remembered per transaction for as long as its inputs are the same.
    sub := coalesce(pg_catalog.current_setting('request.jwt.claim.sub', true), '');
    claims := coalesce(pg_catalog.current_setting('request.jwt.claims', true), '');
    known := coalesce(pg_catalog.current_setting('mirari.caller', true), '');
    if known <> '' and pg_catalog.split_part(known, ' ', 2) = sub
       and claims = coalesce(pg_catalog.current_setting('mirari.caller_claims', true), '') then
      caller := nullif(pg_catalog.split_part(known, ' ', 1), '')::uuid;
    else
      caller := auth.uid();
      perform pg_catalog.set_config('mirari.caller', coalesce(caller::text, '') || ' ' || sub, true),
              pg_catalog.set_config('mirari.caller_claims', claims, true);
    end if;
    if tg_table_name = 'templates' then
      new.author_id := coalesce(new.author_id, caller);
      new_owner := new.author_id;
    else
      new.user_id := coalesce(new.user_id, caller);
      new_owner := new.user_id;
    end if;
  elsif tg_table_name = 'templates' then
    new_owner := new.author_id;
  else
    new_owner := new.user_id;
  end if;

  if new_owner is null then
    raise exception 'null value in column "%" of relation "%"',
      case when tg_table_name = 'templates' then 'author_id' else 'user_id' end, tg_table_name
      using errcode = '23502', hint = 'Sign in, or pass the owner explicitly when using the service role.';
  end if;
  -- Checked before taking any lock, so a forged owner cannot block that user's writes. (On UPDATE the
  -- owner cannot change at all, and RLS decides whose rows a caller reaches.)
  if tg_op = 'INSERT' and caller is not null and new_owner <> caller then
    raise exception 'new row violates row-level security policy for table "%"', tg_table_name
      using errcode = '42501', detail = 'The owner of a row is always the signed-in user.';
  end if;

  if tg_op = 'UPDATE' then
    -- (separate branches: a record field that a table lacks must never be referenced)
    if tg_table_name = 'templates' then
      if new.author_id is distinct from old.author_id then
        raise exception 'the owner of a row in "%" cannot change', tg_table_name using errcode = '42501';
      end if;
    elsif new.user_id is distinct from old.user_id then
      raise exception 'the owner of a row in "%" cannot change', tg_table_name using errcode = '42501';
    end if;
    new.created_at := old.created_at;
    new.updated_at := old.updated_at;
    if old.deleted_at is not null then
      if new.deleted_at is null then
        raise exception 'row % of "%" is deleted; a tombstone cannot be cleared', old.id, tg_table_name
          using errcode = 'P0001', hint = 'Deleted rows stay deleted; create a new row instead.';
      end if;
      new.deleted_at := old.deleted_at;
    elsif new.deleted_at is not null then
      tombstoning := true;
    end if;
    if tg_table_name = 'skills' then
      new.version := old.version
        + case when new.template_prompt is distinct from old.template_prompt then 1 else 0 end;
    end if;
    if new is not distinct from old then
      return new;  -- nothing a client owns changed: keep the stamp, take no lock
    end if;
  elsif tg_table_name = 'skills' then
    new.version := coalesce(new.version, 1);
  end if;

  -- The stamp: next_stamp's cached path inline (see …120100_faster_stamps), next_stamp itself otherwise.
  xact := pg_catalog.pg_current_xact_id()::text;
  cached := coalesce(pg_catalog.current_setting('mirari.stamp', true), '');
  if cached <> '' and pg_catalog.split_part(cached, ' ', 1) = xact
     and pg_catalog.split_part(cached, ' ', 2) = new_owner::text then
    -- This transaction holds the owner's clock row since its first stamp.
    stamp := greatest(pg_catalog.clock_timestamp(),
                      (pg_catalog.split_part(cached, ' ', 3) || '+00')::timestamptz + interval '1 microsecond');
    perform pg_catalog.set_config('mirari.stamp', xact || ' ' || new_owner::text || ' '
      || pg_catalog.to_char(stamp at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), true);
  else
    stamp := mirari_private.next_stamp(new_owner);
  end if;

  if tg_op = 'INSERT' then
    -- The client's created_at within [epoch, stamp + 5 minutes]; the stamp when none was sent.
    if new.created_at is null then
      new.created_at := stamp;
    elsif new.created_at > stamp + interval '5 minutes' then
      new.created_at := stamp + interval '5 minutes';
    elsif new.created_at < '1970-01-01 00:00:00+00'::timestamptz then
      new.created_at := '1970-01-01 00:00:00+00'::timestamptz;
    end if;
    if tg_table_name = 'messages' then
      seq_bound := (extract(epoch from stamp) * 1000000)::bigint + 86400000000;
      if new.seq > seq_bound then
        new.seq := seq_bound;
      end if;
    end if;
    new.updated_at := stamp;
    if new.deleted_at is not null then
      new.deleted_at := stamp;
    end if;
    return new;
  end if;
  new.updated_at := stamp;
  if tombstoning then
    new.deleted_at := stamp;
  end if;
  return new;
end
$$;

revoke all on function mirari_private.stamp_row() from public, anon, authenticated, service_role;
