-- MIRARI server schema, part 1: the eight synced tables.
--
-- Every table has the same sync shape: a client-chosen uuid `id`, an owner (`user_id`; `author_id` for
-- templates) that defaults to the caller and can never change, and three server-managed timestamps
-- (`created_at`, `updated_at` = the per-user, commit-ordered sync cursor, `deleted_at` = tombstone).
-- The trigger in the next migration owns those columns; the defaults here only document intent.
--
-- References between a user's rows are composite foreign keys (child id, user_id) -> (parent id,
-- user_id), so a row can only ever point at a parent of the SAME user, whatever ids a client sends.
-- Text lengths and jsonb sizes are bounded so one bad client cannot store megabytes per row.

create schema if not exists mirari_private;
comment on schema mirari_private is
  'MIRARI internals (sync clock, trigger functions); not exposed through the API.';

-- The per-user sync clock: the last updated_at stamp handed out for each user. The stamping trigger
-- locks the user's row until commit, which serialises that user's writes and makes stamps commit-ordered.
-- No foreign key to auth.users: deleting a user cascades through triggers that still stamp.
create table if not exists mirari_private.sync_clock (
  user_id uuid primary key,
  last_stamp timestamptz not null
);

-- -- agent_connections -----------------------------------------------------------------------------
create table public.agent_connections (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  name text not null,
  provider text not null,
  base_url text not null,
  model text not null,
  status text not null default 'offline',
  system_prompt text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz,
  constraint agent_connections_id_owner_key unique (id, user_id),
  constraint agent_connections_provider_check check (provider in ('hermes', 'openrouter', 'nous', 'custom')),
  constraint agent_connections_status_check check (status in ('online', 'offline', 'error')),
  constraint agent_connections_name_length check (char_length(name) <= 500),
  constraint agent_connections_base_url_length check (char_length(base_url) <= 2048),
  constraint agent_connections_model_length check (char_length(model) <= 500),
  constraint agent_connections_system_prompt_length check (char_length(system_prompt) <= 200000)
);

-- -- conversations & messages ----------------------------------------------------------------------
create table public.conversations (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  agent_connection_id uuid,
  title text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz,
  constraint conversations_id_owner_key unique (id, user_id),
  constraint conversations_agent_connection_fkey foreign key (agent_connection_id, user_id)
    references public.agent_connections (id, user_id) on delete set null (agent_connection_id),
  constraint conversations_title_length check (char_length(title) <= 500)
);

create table public.messages (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  conversation_id uuid not null,
  role text not null,
  content text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz,
  constraint messages_conversation_fkey foreign key (conversation_id, user_id)
    references public.conversations (id, user_id) on delete cascade,
  constraint messages_role_check check (role in ('system', 'user', 'assistant')),
  constraint messages_content_length check (char_length(content) <= 200000)
);

-- -- memory_nodes ----------------------------------------------------------------------------------
create table public.memory_nodes (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  label text not null,
  category text,
  strength real not null default 0.5,
  source text,
  last_referenced_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz,
  constraint memory_nodes_strength_range check (strength >= 0 and strength <= 1),
  constraint memory_nodes_label_length check (char_length(label) <= 2000),
  constraint memory_nodes_category_length check (char_length(category) <= 500),
  constraint memory_nodes_source_length check (char_length(source) <= 500)
);

-- -- skills ----------------------------------------------------------------------------------------
create table public.skills (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  name text not null,
  description text,
  category text,
  status text not null default 'suggested',
  score real not null default 0,
  version integer not null default 1,
  template_prompt text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz,
  constraint skills_status_check check (status in ('suggested', 'accepted', 'testing', 'promoted', 'archived')),
  constraint skills_score_range check (score >= 0 and score <= 1),
  constraint skills_version_positive check (version >= 1),
  constraint skills_name_length check (char_length(name) <= 500),
  constraint skills_description_length check (char_length(description) <= 20000),
  constraint skills_category_length check (char_length(category) <= 500),
  constraint skills_template_prompt_length check (char_length(template_prompt) <= 20000)
);

-- -- mirror_reports --------------------------------------------------------------------------------
create table public.mirror_reports (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  agent_connection_id uuid,
  title text,
  strengths jsonb not null default '[]',
  weaknesses jsonb not null default '[]',
  recommendations jsonb not null default '[]',
  suggested_prompt text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz,
  constraint mirror_reports_agent_connection_fkey foreign key (agent_connection_id, user_id)
    references public.agent_connections (id, user_id) on delete set null (agent_connection_id),
  constraint mirror_reports_lists_are_arrays check (
    jsonb_typeof(strengths) = 'array' and jsonb_typeof(weaknesses) = 'array'
    and jsonb_typeof(recommendations) = 'array'),
  constraint mirror_reports_lists_size check (
    octet_length(strengths::text) + octet_length(weaknesses::text)
    + octet_length(recommendations::text) <= 200000),
  constraint mirror_reports_title_length check (char_length(title) <= 500),
  constraint mirror_reports_suggested_prompt_length check (char_length(suggested_prompt) <= 200000)
);

-- -- tasks -----------------------------------------------------------------------------------------
create table public.tasks (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  connection_id uuid,
  title text not null,
  description text,
  status text not null default 'pending',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz,
  constraint tasks_connection_fkey foreign key (connection_id, user_id)
    references public.agent_connections (id, user_id) on delete set null (connection_id),
  constraint tasks_status_check check (status in ('pending', 'in_progress', 'done')),
  constraint tasks_title_length check (char_length(title) <= 500),
  constraint tasks_description_length check (char_length(description) <= 20000)
);

-- -- templates -------------------------------------------------------------------------------------
-- payload = { "skills": [ {name, description, category, template_prompt} ],
--             "seed_memory": [ {label, category, strength} ] }
create table public.templates (
  id uuid primary key default gen_random_uuid(),
  author_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  name text not null,
  description text,
  category text,
  payload jsonb not null,
  installs integer not null default 0,
  is_public boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz,
  -- coalesce: a missing key makes jsonb_typeof() null, and a null CHECK would pass.
  constraint templates_payload_shape check (coalesce(
    jsonb_typeof(payload) = 'object'
    and jsonb_typeof(payload -> 'skills') = 'array'
    and jsonb_typeof(payload -> 'seed_memory') = 'array'
    and not jsonb_path_exists(payload, '$.skills[*] ? (@.type() != "object" || !exists(@.name) || @.name.type() != "string")')
    and not jsonb_path_exists(payload, '$.seed_memory[*] ? (@.type() != "object" || !exists(@.label) || @.label.type() != "string")'),
    false)),
  constraint templates_payload_size check (octet_length(payload::text) <= 1000000),
  constraint templates_installs_nonnegative check (installs >= 0),
  constraint templates_name_length check (char_length(name) <= 500),
  constraint templates_description_length check (char_length(description) <= 20000),
  constraint templates_category_length check (char_length(category) <= 500)
);

-- -- indexes ---------------------------------------------------------------------------------------
-- The pull: `where <owner> = auth.uid() and updated_at > $cursor order by updated_at limit n` is a
-- range scan of (owner, updated_at). Stamps are unique per user, so the indexes are unique too: the
-- sync cursor's correctness rests on that, and the database now enforces it.
create unique index agent_connections_owner_updated_at on public.agent_connections (user_id, updated_at);
create unique index conversations_owner_updated_at on public.conversations (user_id, updated_at);
create unique index messages_owner_updated_at on public.messages (user_id, updated_at);
create unique index memory_nodes_owner_updated_at on public.memory_nodes (user_id, updated_at);
create unique index skills_owner_updated_at on public.skills (user_id, updated_at);
create unique index mirror_reports_owner_updated_at on public.mirror_reports (user_id, updated_at);
create unique index tasks_owner_updated_at on public.tasks (user_id, updated_at);
create unique index templates_owner_updated_at on public.templates (author_id, updated_at);

-- Foreign-key lookups for the tombstone cascades and ON DELETE actions.
create index messages_conversation_id on public.messages (conversation_id);
create index conversations_agent_connection_id on public.conversations (agent_connection_id)
  where agent_connection_id is not null;
create index mirror_reports_agent_connection_id on public.mirror_reports (agent_connection_id)
  where agent_connection_id is not null;
create index tasks_connection_id on public.tasks (connection_id) where connection_id is not null;

-- The public catalogue, newest first.
create index templates_public_catalogue on public.templates (created_at desc)
  where is_public and deleted_at is null;
