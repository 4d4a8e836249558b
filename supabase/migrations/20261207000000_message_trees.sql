-- MIRARI server schema: conversations as trees (issue 21).
--
-- A thread was a line ordered by seq, so Regenerate and Retry deleted the old reply, an edit could only
-- overwrite, and two devices that continued one thread offline interleaved their turns. Now:
--
-- messages.parent_id   the message this one answers or follows; null for a first message (several
--                      first messages are siblings: an edit of the first question). Siblings are found
--                      by query (the index below), never stored as child lists (stored lists drift).
--                      Checked once per INSERT statement (a child and its parent may arrive in one
--                      request, in any order): a parent must be a live message of the same conversation
--                      and the same user, else 23503 (the client parks the child "deleted elsewhere" or
--                      waits for the parent's own insert). Insert-only, like seq: an UPDATE keeps the
--                      stored value, so a message never moves in its tree and no cycle can ever form.
--                      Not sent at all (an older MIRARI, which knows no parent_id): the column default,
--                      the nil uuid, means "follows the thread's newest message" and is replaced by that
--                      message's id (follow_thread), so such a device keeps continuing the line it sees.
--                      An explicit null is a root.
-- messages.status      done | error | stopped: a failed generation is kept as a reply with status
--                      'error' and its reason in messages.error (<= 2,000 characters), so Retry makes a
--                      sibling and nothing is silently dropped; 'stopped' = cut off (Stop, or a reply
--                      still streaming when the app died). Only replies have another status than done.
--                      Clients never send an error reply in a prompt.
-- Tombstones           a message's tombstone takes its whole subtree: every live descendant is
--                      tombstoned in the same statement (one request deletes a branch), each through
--                      stamp_row, so every device hears about it.
--
-- conversations.active_leaf_id    the message at the end of the branch the person reads: an id, never an
--                                 index; a soft reference (no check, no foreign key) and last writer wins.
--                                 Readers fall back to the thread's newest leaf when it is missing or
--                                 deleted, and follow it down to its newest leaf when replies were added
--                                 under it.
-- conversations.temperature, max_tokens, stop_sequences (a JSON array of at most 4 strings of 1-200
--                      characters), system_addition (<= 20,000 characters): per-thread settings a turn's
--                      request carries; null = the connection's default.
--
-- Existing threads become a single path: each live message's parent is the previous live message of its
-- conversation by (seq, id), and the thread's active leaf its last live message: exactly what local
-- migration v11 gives the rows a device already has, so no row is restamped and nothing is pulled again
-- (as …100000_message_order and …100100_message_authorship).
-- Row-level security and grants are unchanged: new columns of tables whose grants are column-less.

-- -- messages ---------------------------------------------------------------------------------------
alter table public.messages
  add column parent_id uuid,
  add column status text not null default 'done',
  add column error text,
  add constraint messages_status_check check (status in ('done', 'error', 'stopped')),
  add constraint messages_status_role check (status = 'done' or role = 'assistant'),
  add constraint messages_error_status check ((status = 'error') = (error is not null)),
  add constraint messages_error_length check (char_length(error) between 1 and 2000),
  add constraint messages_parent_not_self check (parent_id <> id);

alter table public.messages disable trigger stamp_row;
update public.messages m
   set parent_id = o.previous
  from (select id, lag(id) over (partition by conversation_id order by seq, id) as previous
          from public.messages
         where deleted_at is null) o
 where m.id = o.id and o.previous is not null;
alter table public.messages enable trigger stamp_row;

-- From now on, not sending parent_id means "after the thread's newest message" (see follow_thread).
alter table public.messages alter column parent_id set default '00000000-0000-0000-0000-000000000000';

-- Children of a message (siblings, the subtree cascade, the parent check's reverse lookups).
create index messages_parent_id on public.messages (parent_id) where parent_id is not null;

-- An insert that did not say its parent follows the newest live message of its thread before it (by
-- seq, id): what a device that knows no trees shows as the line it continues. Runs with the caller's
-- rights (RLS: only the caller's own messages are candidates), before stamp_row (name order).
create or replace function mirari_private.follow_thread() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.parent_id := (select m.id from public.messages m
                     where m.conversation_id = new.conversation_id and m.deleted_at is null
                       and (m.seq, m.id) < (new.seq, new.id)
                     order by m.seq desc, m.id desc
                     limit 1);
  return new;
end
$$;

create trigger follow_thread before insert on public.messages
  for each row when (new.parent_id = '00000000-0000-0000-0000-000000000000'::uuid)
  execute function mirari_private.follow_thread();

-- The live-parent check of …120100_faster_stamps, per INSERT statement, now for the parent message too.
-- Per statement, so the rows of one request are all in place when it runs: a child may come before its
-- parent in the same request. Runs with the caller's rights: another user's message is never a parent.
create or replace function mirari_private.messages_need_live_parents() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  gone uuid;
  orphan record;
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
  select n.id, n.parent_id into orphan
    from new_messages n
   where n.parent_id is not null and n.deleted_at is null
     and not exists (select 1 from public.messages p
                      where p.id = n.parent_id and p.conversation_id = n.conversation_id
                        and p.user_id = n.user_id and p.deleted_at is null)
   limit 1;
  if found then
    raise exception 'message %: its parent % is not a live message of the same conversation', orphan.id, orphan.parent_id
      using errcode = '23503',
            hint = 'The message it answers was deleted (perhaps on another device) or is not in this thread.';
  end if;
  return null;
end
$$;

-- keep_message_seq (…100000_message_order) keeps every insert-only column of a message: seq, parent_id.
-- Replaced only now, after the backfill above, which had to write parent_id.
create or replace function mirari_private.keep_message_seq() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.seq := old.seq;
  new.parent_id := old.parent_id;
  return new;
end
$$;

-- A message's tombstone takes its subtree: the live descendants of the rows this statement tombstoned,
-- found in one recursive query, are tombstoned by one UPDATE (stamp_row stamps each, so devices pull
-- them). That UPDATE fires this trigger once more, which finds no live descendant left; a statement
-- that tombstoned nothing returns at once (an AFTER STATEMENT trigger fires for zero rows too).
create or replace function mirari_private.cascade_message_tombstones() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if not exists (select 1 from new_rows n join old_rows o on o.id = n.id
                  where o.deleted_at is null and n.deleted_at is not null) then
    return null;
  end if;
  with recursive doomed (id) as (
      select n.id from new_rows n join old_rows o on o.id = n.id
       where o.deleted_at is null and n.deleted_at is not null
    union
      select m.id from public.messages m join doomed d on m.parent_id = d.id
       where m.deleted_at is null)
  update public.messages m
     set deleted_at = pg_catalog.now()  -- a request for a tombstone: stamp_row replaces it by the stamp
    from doomed d
   where m.id = d.id and m.deleted_at is null;
  return null;
end
$$;

create trigger cascade_message_tombstones after update on public.messages
  referencing old table as old_rows new table as new_rows
  for each statement execute function mirari_private.cascade_message_tombstones();

revoke all on function mirari_private.follow_thread() from public, anon, authenticated, service_role;
revoke all on function mirari_private.messages_need_live_parents() from public, anon, authenticated, service_role;
revoke all on function mirari_private.keep_message_seq() from public, anon, authenticated, service_role;
revoke all on function mirari_private.cascade_message_tombstones() from public, anon, authenticated, service_role;

-- -- conversations ----------------------------------------------------------------------------------
alter table public.conversations
  add column active_leaf_id uuid,
  add column temperature real,
  add column max_tokens integer,
  add column stop_sequences jsonb,
  add column system_addition text,
  add constraint conversations_temperature_range check (temperature >= 0 and temperature <= 2),
  add constraint conversations_max_tokens_range check (max_tokens >= 1 and max_tokens <= 1000000),
  -- strict: no unwrapping of nested arrays (…100200_typed_json_checks); a non-string fails the type test
  -- before its length is looked at.
  add constraint conversations_stop_sequences_shape check (stop_sequences is null or case
    when jsonb_typeof(stop_sequences) = 'array' then coalesce(
      jsonb_array_length(stop_sequences) <= 4
      and not jsonb_path_exists(stop_sequences,
            'strict $[*] ? (@.type() != "string" || !(@ like_regex "^.{1,200}$" flag "s"))', '{}', true),
      false)
    else false end),
  add constraint conversations_system_addition_length check (char_length(system_addition) <= 20000);

-- An existing thread's active leaf is its last live message (the end of the one path it now is), so a
-- branch that arrives later from another device does not take over the view. Same rule as local v11, and
-- not a change to pull: the stamping trigger (and the reference check, which has nothing to repair on
-- rows the tombstone cascade already cleared) are off for this one statement.
alter table public.conversations disable trigger stamp_row;
alter table public.conversations disable trigger live_parents;
update public.conversations c
   set active_leaf_id = l.id
  from (select distinct on (conversation_id) conversation_id, id
          from public.messages
         where deleted_at is null
         order by conversation_id, seq desc, id desc) l
 where l.conversation_id = c.id and c.deleted_at is null;
alter table public.conversations enable trigger live_parents;
alter table public.conversations enable trigger stamp_row;
