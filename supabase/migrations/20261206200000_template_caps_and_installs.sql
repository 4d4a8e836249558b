-- Templates: a cap on the items of a payload, and an install counted once per user, after it is written.
--
-- 1. `templates_payload_items`: at most 200 skills and 2,000 seed memories per template. The 1 MB size
--    check alone let a template carry 45,000 memories, which every installer then had to write. The
--    caps are far above a useful template (a person's whole Atlas is injected 40 facts at a time) and
--    bound an install to seconds. A tombstone is exempt, so an author can always withdraw a template
--    published before this check. NOT VALID: a project's existing rows are not re-checked (this
--    migration never fails on them), but every insert and update of a live row is.
--
-- 2. Install counting moves out of `install_template`, which now only returns the payload of a
--    template the caller may see, into `record_template_install(template_id)`, which the client calls
--    after it has written the rows: a killed or failed install counts nothing. It counts once per
--    user: `mirari_private.template_installs` holds one row per (template, user), and `installs` grows
--    only when that row is new, so nobody can inflate a template's count by installing it again and
--    again. The table is private (no grants, RLS on, no policies): only the function writes it.
--    Counts recorded before this migration are kept as they are.
--
-- Errors of both functions: 42501 when not signed in; PT404 (HTTP 404) when the template does not exist,
-- was deleted, or is private to another author — one answer for all three, so private templates stay
-- undiscoverable.

alter table public.templates add constraint templates_payload_items check (
  deleted_at is not null or (
    case when jsonb_typeof(payload -> 'skills') = 'array'
         then jsonb_array_length(payload -> 'skills') <= 200 else true end
    and case when jsonb_typeof(payload -> 'seed_memory') = 'array'
             then jsonb_array_length(payload -> 'seed_memory') <= 2000 else true end)
) not valid;

create table mirari_private.template_installs (
  template_id uuid not null references public.templates (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  installed_at timestamptz not null default now(),
  primary key (template_id, user_id)
);
create index template_installs_user on mirari_private.template_installs (user_id);
comment on table mirari_private.template_installs is
  'Who has installed which template (one row per user): templates.installs counts each user once.';
alter table mirari_private.template_installs enable row level security;
revoke all on table mirari_private.template_installs from public, anon, authenticated, service_role;

create or replace function public.install_template(template_id uuid) returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  caller uuid := auth.uid();
  result jsonb;
begin
  if caller is null then
    raise exception 'install_template requires a signed-in user' using errcode = '42501';
  end if;
  select t.payload into result
    from public.templates as t
   where t.id = install_template.template_id
     and t.deleted_at is null
     and (t.author_id = caller or t.is_public);
  if result is null then
    raise exception 'template % not found', install_template.template_id
      using errcode = 'PT404', hint = 'It does not exist, was deleted, or is private to its author.';
  end if;
  return result;
end
$$;

comment on function public.install_template(uuid) is
  'The payload of a template the caller may see (own, or public). Counts nothing: see record_template_install.';

create or replace function public.record_template_install(template_id uuid) returns boolean
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := auth.uid();
begin
  if caller is null then
    raise exception 'record_template_install requires a signed-in user' using errcode = '42501';
  end if;
  -- FOR UPDATE at once: the count below changes the row (and its unique updated_at), so a weaker lock
  -- taken first by two installers would deadlock them; installs of one template queue here instead.
  perform 1 from public.templates as t
   where t.id = record_template_install.template_id
     and t.deleted_at is null
     and (t.author_id = caller or t.is_public)
     for update;
  if not found then
    raise exception 'template % not found', record_template_install.template_id
      using errcode = 'PT404', hint = 'It does not exist, was deleted, or is private to its author.';
  end if;
  insert into mirari_private.template_installs (template_id, user_id)
  values (record_template_install.template_id, caller)
  on conflict do nothing;
  if not found then
    return false;  -- this user's install was counted before
  end if;
  -- stamp_row keeps templates.installs unless this transaction-local flag is on.
  perform pg_catalog.set_config('mirari.counting_install', 'on', true);
  update public.templates as t
     set installs = t.installs + 1
   where t.id = record_template_install.template_id;
  perform pg_catalog.set_config('mirari.counting_install', '', true);
  return true;
end
$$;

comment on function public.record_template_install(uuid) is
  'Counts the caller''s install of a template they may see, once per user; true when counted now.';

revoke all on function public.install_template(uuid) from public, anon, authenticated, service_role;
grant execute on function public.install_template(uuid) to authenticated, service_role;
revoke all on function public.record_template_install(uuid) from public, anon, authenticated, service_role;
grant execute on function public.record_template_install(uuid) to authenticated, service_role;
