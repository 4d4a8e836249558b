-- MIRARI server schema: messages.seq, the order of a thread's messages that sync never rewrites.
--
-- created_at is the server's stamp (stamp_row), taken when a row reaches the server, so a reply pushed
-- before its question would sort before it, and a device whose clock is a day off shows its new
-- messages a day away from where they belong until they are pushed. seq is chosen once by the device
-- that writes the message (a hybrid logical clock in microseconds: max(its clock, the thread's largest
-- seq + 1), so a reply always follows the question it answers) and kept from then on:
--   * INSERT: the client's value; a client that does not send one (an older MIRARI) gets the server's
--     clock in microseconds;
--   * UPDATE: the stored value is kept whatever a client sends (keep_message_seq), so no device or
--     replay can reorder a thread.
-- Threads are ordered by (seq, id) on every device.

alter table public.messages add column seq bigint;

-- Existing rows: the microseconds of their created_at, exactly what the local migration (v6) gives the
-- rows a device already pulled, so nothing needs pulling again. Backfilling is not a change a device
-- must hear about: the stamping trigger is off for this one statement (it would hand every message a
-- new updated_at and make every device pull them all again).
alter table public.messages disable trigger stamp_row;
update public.messages
   set seq = floor(extract(epoch from date_trunc('second', created_at)))::bigint * 1000000
             + (extract(microseconds from created_at)::bigint % 1000000);
alter table public.messages enable trigger stamp_row;

alter table public.messages
  alter column seq set default (floor(extract(epoch from clock_timestamp()) * 1000000))::bigint,
  alter column seq set not null,
  add constraint messages_seq_positive check (seq > 0);

-- A thread read in order, and the "largest seq of this thread" lookup.
create index messages_conversation_seq on public.messages (conversation_id, seq);

-- Runs before stamp_row (triggers fire in name order), so an UPDATE that only tried to change seq
-- changes nothing and keeps its stamp.
create or replace function mirari_private.keep_message_seq() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.seq := old.seq;
  return new;
end
$$;
revoke all on function mirari_private.keep_message_seq() from public, anon, authenticated, service_role;

create trigger keep_message_seq before update on public.messages
  for each row execute function mirari_private.keep_message_seq();
