-- MIRARI server schema: attachments — files a message carries, their bytes in Supabase Storage.
--
-- public.attachments is a synced table like the others (client-chosen id, owner, the stamping trigger,
-- tombstones, RLS to the owner, explicit grants, bounded sizes). It describes one file attached to one
-- message: its name, MIME type, size and SHA-256. The bytes live in the private Storage bucket
-- `attachments` at `storage_path` = '<user id>/<attachment id>' — one object per row, inside the owner's
-- folder, so a row can never point at another row's object or at another user's folder.
--
-- Order (docs/attachments.md): a device pushes the row first and uploads the bytes after it; the bucket's
-- insert policy below only accepts an object for a live attachment row of the caller at that path, so
-- nobody can park arbitrary files in the bucket and nothing is uploaded for a row the server refused.
--
-- Deleting a message tombstones its attachments (trigger below; a conversation's tombstone reaches them
-- through its messages). The device that deleted removes the objects through the Storage API (a row in
-- storage.objects must never be deleted by SQL: its bytes would stay behind).
--
-- Also here: agent_connections.accepts_images — whether the connection's model takes image content parts
-- (false until the user says so: a text-only model answers an image with a server error).

-- -- messages: (id, user_id) unique, for the attachments' composite foreign key ------------------------
do $$
begin
  if not exists (select 1 from pg_catalog.pg_constraint
                  where conrelid = 'public.messages'::regclass and conname = 'messages_id_owner_key') then
    alter table public.messages add constraint messages_id_owner_key unique (id, user_id);
  end if;
end
$$;

-- -- attachments ------------------------------------------------------------------------------------
create table public.attachments (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  message_id uuid not null,
  name text not null,
  mime_type text not null,
  size bigint not null,
  sha256 text not null,
  storage_path text not null,
  created_at timestamptz not null,  -- no default: the client's time is kept (…100000_client_times)
  updated_at timestamptz not null default now(),
  deleted_at timestamptz,
  constraint attachments_message_fkey foreign key (message_id, user_id)
    references public.messages (id, user_id) on delete cascade,
  constraint attachments_name_length check (char_length(name) between 1 and 255),
  constraint attachments_mime_type_shape check (
    char_length(mime_type) <= 255
    and mime_type ~ '^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$'),
  -- 50 MiB: Supabase Storage's default upload limit; the app's own limit (a setting) is lower.
  constraint attachments_size_range check (size >= 0 and size <= 52428800),
  constraint attachments_sha256_shape check (sha256 ~ '^[0-9a-f]{64}$'),
  constraint attachments_storage_path_owned check (storage_path = user_id::text || '/' || id::text)
);

create unique index attachments_owner_updated_at on public.attachments (user_id, updated_at);
create index attachments_message_id on public.attachments (message_id);

create trigger stamp_row before insert or update on public.attachments
  for each row execute function mirari_private.stamp_row();

-- A row sent without storage_path (made on a device that did not know its owner yet) gets its folder path.
-- Named to fire after stamp_row (triggers fire in name order), which has set the owner by then.
create or replace function mirari_private.attachments_storage_path() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.storage_path := coalesce(new.storage_path, new.user_id::text || '/' || new.id::text);
  return new;
end
$$;
revoke all on function mirari_private.attachments_storage_path() from public, anon, authenticated, service_role;

create trigger storage_path before insert on public.attachments
  for each row execute function mirari_private.attachments_storage_path();

-- A late attachment for a message deleted elsewhere is refused like a message for a deleted thread (23503):
-- the client parks it visibly instead of creating a live orphan. Runs with the caller's rights.
create or replace function mirari_private.attachments_live_message() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.deleted_at is null and exists (
       select 1 from public.messages m
        where m.id = new.message_id and m.user_id = new.user_id and m.deleted_at is not null) then
    raise exception 'message % is deleted', new.message_id
      using errcode = '23503', hint = 'The message was deleted (perhaps on another device).';
  end if;
  return new;
end
$$;
revoke all on function mirari_private.attachments_live_message() from public, anon, authenticated, service_role;

create trigger live_parents before insert on public.attachments
  for each row execute function mirari_private.attachments_live_message();

-- A message's tombstone reaches its attachments (its own trigger, so cascade_tombstone stays as it is).
-- Each cascaded write goes through stamp_row, so every device learns of it.
create or replace function mirari_private.cascade_message_attachments() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  update public.attachments set deleted_at = new.deleted_at
   where message_id = new.id and user_id = new.user_id and deleted_at is null;
  return null;
end
$$;
revoke all on function mirari_private.cascade_message_attachments() from public, anon, authenticated, service_role;

create trigger cascade_attachments after update on public.messages
  for each row when (old.deleted_at is null and new.deleted_at is not null)
  execute function mirari_private.cascade_message_attachments();

alter table public.attachments enable row level security;
revoke all on table public.attachments from public, anon, authenticated, service_role;
grant select, insert, update on table public.attachments to authenticated;
grant all on table public.attachments to service_role;
create policy attachments_select_own on public.attachments for select to authenticated
  using ((select auth.uid()) = user_id);
create policy attachments_insert_own on public.attachments for insert to authenticated
  with check ((select auth.uid()) = user_id);
create policy attachments_update_own on public.attachments for update to authenticated
  using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id);

-- -- agent_connections.accepts_images ------------------------------------------------------------------
alter table public.agent_connections add column accepts_images boolean not null default false;

-- -- Storage: the private bucket and who may touch its objects -----------------------------------------
-- On a real project the storage schema exists (Supabase's storage service created it); a bucket is a row.
-- Never public: a public bucket serves every object to anyone who knows its path.
insert into storage.buckets (id, name, public, file_size_limit)
values ('attachments', 'attachments', false, 52428800)
on conflict (id) do update set public = false, file_size_limit = excluded.file_size_limit;

-- Signed-in users see that the bucket exists (supabase-js getBucket), nothing more about it.
create policy attachments_bucket_visible on storage.buckets for select to authenticated
  using (id = 'attachments');

-- Objects: only in the caller's own folder '<user id>/…'. Reading and deleting need nothing else (the
-- device that deletes a message removes its objects after the row is tombstoned); writing needs a live
-- attachment row of the caller at exactly that path.
create policy attachments_objects_select_own on storage.objects for select to authenticated
  using (bucket_id = 'attachments' and (storage.foldername(objects.name))[1] = (select auth.uid())::text);
create policy attachments_objects_delete_own on storage.objects for delete to authenticated
  using (bucket_id = 'attachments' and (storage.foldername(objects.name))[1] = (select auth.uid())::text);
create policy attachments_objects_insert_own on storage.objects for insert to authenticated
  with check (
    bucket_id = 'attachments'
    and (storage.foldername(objects.name))[1] = (select auth.uid())::text
    and exists (select 1 from public.attachments a
                 where a.storage_path = objects.name and a.user_id = (select auth.uid()) and a.deleted_at is null));
create policy attachments_objects_update_own on storage.objects for update to authenticated
  using (bucket_id = 'attachments' and (storage.foldername(objects.name))[1] = (select auth.uid())::text)
  with check (
    bucket_id = 'attachments'
    and (storage.foldername(objects.name))[1] = (select auth.uid())::text
    and exists (select 1 from public.attachments a
                 where a.storage_path = objects.name and a.user_id = (select auth.uid()) and a.deleted_at is null));

-- Other devices hear of new and tombstoned attachments at once, like every synced table
-- (20261206400000_sync_pokes.sql: one poke per transaction and owner, table names only).
drop trigger if exists poke_after_insert on public.attachments;
create trigger poke_after_insert after insert on public.attachments referencing new table as changed_rows
  for each statement execute function mirari_private.note_synced_change();
drop trigger if exists poke_after_update on public.attachments;
create trigger poke_after_update after update on public.attachments referencing new table as changed_rows
  for each statement execute function mirari_private.note_synced_change();
