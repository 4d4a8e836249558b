-- MIRARI server schema, part 2: the one trigger that owns every server-managed column, and the
-- tombstone cascades.
--
-- Why not moddatetime/now(): now() is the transaction START, but a row becomes visible at COMMIT. A
-- client whose cursor passed the stamp while the writer was still open would skip the row forever
-- (the long-transaction hole). Here each stamp is taken while holding the owner's row in
-- mirari_private.sync_clock locked until commit, and is strictly greater than the owner's previous
-- stamp. So per owner, updated_at is unique and its order is commit order, whatever the clock does,
-- and `updated_at > cursor` never skips a committed row.

-- Hands out the next stamp for `owner` and keeps its clock row locked until the transaction ends.
-- Internal: only the trigger below calls it.
create or replace function mirari_private.next_stamp(owner uuid) returns timestamptz
language plpgsql volatile
set search_path = ''
as $$
declare
  stamp timestamptz;
begin
  insert into mirari_private.sync_clock as c (user_id, last_stamp)
  values (owner, clock_timestamp())
  on conflict (user_id) do update
    set last_stamp = greatest(clock_timestamp(), c.last_stamp + interval '1 microsecond')
  returning c.last_stamp into stamp;
  return stamp;
end
$$;

-- BEFORE INSERT OR UPDATE on every synced table. Values a client sends for these columns:
--   owner (user_id / author_id): defaults to auth.uid(); another user's id is rejected (42501);
--                                changing it on UPDATE is rejected (42501).
--   created_at, updated_at:      ignored; the server stamps them.
--   deleted_at:                  any non-null value means "tombstone now" and is replaced by the
--                                stamp; once set it is kept; clearing it is rejected (P0001).
--   skills.version:              ignored on UPDATE; +1 whenever template_prompt changes.
--   templates.installs:          ignored (0 on INSERT); only install_template() counts installs.
-- An UPDATE that changes no client column keeps the row's stamp (no echo churn on replays).
create or replace function mirari_private.stamp_row() returns trigger
language plpgsql
security definer  -- writes mirari_private.sync_clock, which no API role may touch
set search_path = ''
as $$
declare
  caller uuid := auth.uid();
  new_owner uuid;
  tombstoning boolean := false;
  stamp timestamptz;
begin
  if tg_table_name = 'templates' then
    if tg_op = 'INSERT' then
      new.author_id := coalesce(new.author_id, caller);
      new.installs := 0;
    elsif current_setting('mirari.counting_install', true) is distinct from 'on' then
      new.installs := old.installs;
    end if;
    new_owner := new.author_id;
  else
    if tg_op = 'INSERT' then
      new.user_id := coalesce(new.user_id, caller);
    end if;
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

  if tg_op = 'INSERT' then
    if tg_table_name = 'skills' then
      new.version := coalesce(new.version, 1);
    end if;
    stamp := mirari_private.next_stamp(new_owner);
    new.created_at := stamp;
    new.updated_at := stamp;
    if new.deleted_at is not null then
      new.deleted_at := stamp;
    end if;
    return new;
  end if;

  -- UPDATE (separate branches: a record field that a table lacks must never be referenced)
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
  stamp := mirari_private.next_stamp(new_owner);
  new.updated_at := stamp;
  if tombstoning then
    new.deleted_at := stamp;
  end if;
  return new;
end
$$;

-- Tombstone cascades, AFTER UPDATE when deleted_at goes from null to a value. They run with the
-- caller's rights (RLS applies); the composite foreign keys guarantee every child has the same owner.
-- Each cascaded write goes through stamp_row, so it gets its own new updated_at and reaches every device.
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
  end if;
  return null;
end
$$;

create trigger stamp_row before insert or update on public.agent_connections
  for each row execute function mirari_private.stamp_row();
create trigger stamp_row before insert or update on public.conversations
  for each row execute function mirari_private.stamp_row();
create trigger stamp_row before insert or update on public.messages
  for each row execute function mirari_private.stamp_row();
create trigger stamp_row before insert or update on public.memory_nodes
  for each row execute function mirari_private.stamp_row();
create trigger stamp_row before insert or update on public.skills
  for each row execute function mirari_private.stamp_row();
create trigger stamp_row before insert or update on public.mirror_reports
  for each row execute function mirari_private.stamp_row();
create trigger stamp_row before insert or update on public.tasks
  for each row execute function mirari_private.stamp_row();
create trigger stamp_row before insert or update on public.templates
  for each row execute function mirari_private.stamp_row();

create trigger cascade_tombstone after update on public.conversations
  for each row when (old.deleted_at is null and new.deleted_at is not null)
  execute function mirari_private.cascade_tombstone();
create trigger cascade_tombstone after update on public.agent_connections
  for each row when (old.deleted_at is null and new.deleted_at is not null)
  execute function mirari_private.cascade_tombstone();

-- Writes that arrive late, from a device that has not yet seen a tombstone (it was offline):
--   a new message in a deleted conversation is refused with 23503 (the parent is gone), so the client
--   parks it visibly ("deleted on another device") instead of creating a live orphan;
--   a reference to a deleted connection is stored as null, exactly what the cascade did to the rows
--   that already pointed at it.
-- Runs with the caller's rights, before stamp_row (triggers fire in name order).
create or replace function mirari_private.respect_tombstoned_parents() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_table_name = 'messages' then
    if new.deleted_at is null and exists (
         select 1 from public.conversations c
          where c.id = new.conversation_id and c.user_id = new.user_id and c.deleted_at is not null) then
      raise exception 'conversation % is deleted', new.conversation_id
        using errcode = '23503', hint = 'The conversation was deleted (perhaps on another device).';
    end if;
  elsif tg_table_name = 'tasks' then
    if new.connection_id is not null and exists (
         select 1 from public.agent_connections a
          where a.id = new.connection_id and a.user_id = new.user_id and a.deleted_at is not null) then
      new.connection_id := null;
    end if;
  elsif new.agent_connection_id is not null and exists (  -- conversations, mirror_reports
         select 1 from public.agent_connections a
          where a.id = new.agent_connection_id and a.user_id = new.user_id and a.deleted_at is not null) then
    new.agent_connection_id := null;
  end if;
  return new;
end
$$;

create trigger live_parents before insert on public.messages
  for each row execute function mirari_private.respect_tombstoned_parents();
create trigger live_parents before insert or update on public.conversations
  for each row execute function mirari_private.respect_tombstoned_parents();
create trigger live_parents before insert or update on public.tasks
  for each row execute function mirari_private.respect_tombstoned_parents();
create trigger live_parents before insert or update on public.mirror_reports
  for each row execute function mirari_private.respect_tombstoned_parents();
