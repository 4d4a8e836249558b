-- Supabase Storage's schema, as the project's SQL sees it (supabase/storage migrations/tenant, final state of
-- the parts a project touches: 0002 storage-schema, 0003 path_tokens, 0007/0008 bucket RLS and `public`,
-- 0011 updated_at trigger, 0013/0014 bucket limits, 0016 version, 0017/0018 owner_id, 0023 search(),
-- 0025 user_metadata, 0046 grants, 0055 no direct deletes, 0060/0061 immutable path helpers).
--
-- On a real project the storage service creates all of this; here it is recreated so that the project's
-- own migrations (a bucket row, policies on storage.objects using storage.foldername()) apply unchanged,
-- and the stand-in's Storage API (storage_api.py) answers through the same row-level security.
-- Idempotent: a database kept from an earlier run (--data-dir) gets it by running the file again.

create schema if not exists storage;
grant usage on schema storage to postgres, anon, authenticated, service_role;

create table if not exists storage.buckets (
  id text not null primary key,
  name text not null,
  owner uuid,
  owner_id text,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  public boolean default false,
  avif_autodetection boolean default false,
  file_size_limit bigint,
  allowed_mime_types text[],
  type text not null default 'STANDARD'
);
create unique index if not exists bname on storage.buckets using btree (name);
comment on column storage.buckets.owner is 'Field is deprecated, use owner_id instead';

create table if not exists storage.objects (
  id uuid not null default gen_random_uuid() primary key,
  bucket_id text references storage.buckets (id),
  name text,
  owner uuid,
  owner_id text,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  last_accessed_at timestamptz default now(),
  metadata jsonb,
  path_tokens text[] generated always as (string_to_array(name, '/')) stored,
  version text,
  user_metadata jsonb
);
create unique index if not exists bucketid_objname on storage.objects using btree (bucket_id, name);
create index if not exists name_prefix_search on storage.objects (name text_pattern_ops);
comment on column storage.objects.owner is 'Field is deprecated, use owner_id instead';

alter table storage.buckets enable row level security;
alter table storage.objects enable row level security;
grant all on storage.buckets, storage.objects to anon, authenticated, service_role;

-- -- path helpers used by policies ------------------------------------------------------------------
create or replace function storage.foldername(name text) returns text[]
language plpgsql immutable as $function$
declare
  _parts text[];
begin
  select string_to_array(name, '/') into _parts;
  return _parts[1 : array_length(_parts, 1) - 1];
end
$function$;

create or replace function storage.filename(name text) returns text
language plpgsql immutable as $function$
declare
  _parts text[];
begin
  select string_to_array(name, '/') into _parts;
  return _parts[array_length(_parts, 1)];
end
$function$;

create or replace function storage.extension(name text) returns text
language plpgsql immutable as $function$
declare
  _parts text[];
  _filename text;
begin
  select string_to_array(name, '/') into _parts;
  select _parts[array_length(_parts, 1)] into _filename;
  return reverse(split_part(reverse(_filename), '.', 1));
end
$function$;

grant execute on function storage.foldername(text), storage.filename(text), storage.extension(text)
  to anon, authenticated, service_role;

-- -- updated_at on every object update (0011) --------------------------------------------------------
create or replace function storage.update_updated_at_column() returns trigger
language plpgsql as $$
begin
  new.updated_at = now();
  return new;
end;
$$;
drop trigger if exists update_objects_updated_at on storage.objects;
create trigger update_objects_updated_at before update on storage.objects
  for each row execute function storage.update_updated_at_column();

-- -- no deletes except through the Storage API (0055: it sets storage.allow_delete_query) -------------
create or replace function storage.protect_delete() returns trigger
language plpgsql as $$
begin
  if coalesce(current_setting('storage.allow_delete_query', true), 'false') != 'true' then
    raise exception 'Direct deletion from storage tables is not allowed. Use the Storage API instead.'
      using hint = 'This prevents accidental data loss from orphaned objects.', errcode = '42501';
  end if;
  return null;
end;
$$;
drop trigger if exists protect_buckets_delete on storage.buckets;
create trigger protect_buckets_delete before delete on storage.buckets
  for each statement execute function storage.protect_delete();
drop trigger if exists protect_objects_delete on storage.objects;
create trigger protect_objects_delete before delete on storage.objects
  for each statement execute function storage.protect_delete();

-- -- the list endpoint's search (0023), run as the caller: RLS decides what it returns ------------------
create or replace function storage.search(prefix text, bucketname text, limits int default 100,
                                          levels int default 1, offsets int default 0,
                                          search text default '', sortcolumn text default 'name',
                                          sortorder text default 'asc')
returns table (name text, id uuid, updated_at timestamptz, created_at timestamptz,
               last_accessed_at timestamptz, metadata jsonb)
as $$
declare
  v_order_by text;
  v_sort_order text;
begin
  case
    when sortcolumn = 'name' then v_order_by = 'name';
    when sortcolumn = 'updated_at' then v_order_by = 'updated_at';
    when sortcolumn = 'created_at' then v_order_by = 'created_at';
    when sortcolumn = 'last_accessed_at' then v_order_by = 'last_accessed_at';
    else v_order_by = 'name';
  end case;
  case
    when sortorder = 'asc' then v_sort_order = 'asc';
    when sortorder = 'desc' then v_sort_order = 'desc';
    else v_sort_order = 'asc';
  end case;
  v_order_by = v_order_by || ' ' || v_sort_order;

  return query execute
    'with folders as (
       select path_tokens[$1] as folder
       from storage.objects
         where objects.name ilike $2 || $3 || ''%''
           and bucket_id = $4
           and array_length(objects.path_tokens, 1) <> $1
       group by folder
       order by folder ' || v_sort_order || '
     )
     (select folder as "name",
            null as id,
            null as updated_at,
            null as created_at,
            null as last_accessed_at,
            null as metadata from folders)
     union all
     (select path_tokens[$1] as "name",
            id,
            updated_at,
            created_at,
            last_accessed_at,
            metadata
     from storage.objects
     where objects.name ilike $2 || $3 || ''%''
       and bucket_id = $4
       and array_length(objects.path_tokens, 1) = $1
     order by ' || v_order_by || ')
     limit $5
     offset $6' using levels, prefix, search, bucketname, limits, offsets;
end;
$$ language plpgsql stable;
grant execute on function storage.search(text, text, int, int, int, text, text, text)
  to anon, authenticated, service_role;
