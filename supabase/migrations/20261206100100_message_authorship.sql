-- MIRARI server schema: who wrote each reply.
--
-- Every reply was shown under its thread's *current* connection, so switching a thread to another model
-- renamed the author of every past reply, and exports named only the current model. Each assistant
-- message now records what wrote it:
--   messages.agent_connection_id  the connection (uuid, null for the user's own messages);
--   messages.model                the model name that connection had then (<= 500 characters, like
--                                 agent_connections.model).
-- agent_connection_id is a soft reference, not a foreign key: deleting a connection (a tombstone) leaves
-- the id in place and cascades nothing — a cascade would rewrite, restamp and send to every device every
-- reply the connection ever wrote — and readers show `model` once the connection is gone. Nor does the
-- server check that the id names one of the caller's connections: a message is only ever read by its
-- owner (RLS), whose devices resolve the id among their own connections, so another user's id reveals
-- and changes nothing; a foreign key would also refuse a reply whose connection's own insert is still
-- waiting on that device.
-- Both are ordinary client columns: row-level security, grants (column-less: table grants cover them),
-- the stamping trigger and tombstones of messages apply unchanged.
--
-- Existing replies are attributed the way the transcript showed them until now: to their thread's
-- connection and that connection's current model. The same fill is what the local migration v9 gives the
-- rows a device already has, so, like the seq backfill of …100000_message_order, it is not a change a
-- device must pull: the stamping trigger is off for this one statement.

alter table public.messages
  add column agent_connection_id uuid,
  add column model text,
  add constraint messages_model_length check (char_length(model) <= 500);

alter table public.messages disable trigger stamp_row;
update public.messages m
   set agent_connection_id = c.agent_connection_id, model = a.model
  from public.conversations c
  join public.agent_connections a on a.id = c.agent_connection_id and a.user_id = c.user_id
 where m.role = 'assistant' and c.id = m.conversation_id and c.user_id = m.user_id and a.deleted_at is null;
alter table public.messages enable trigger stamp_row;
