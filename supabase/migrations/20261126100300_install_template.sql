-- MIRARI server schema, part 4: install_template(template_id) — the one RPC.
--
-- RLS lets only the author update a template, yet every install must count. This function runs as
-- its owner (security definer, empty search_path, everything schema-qualified), checks visibility
-- itself — the caller's own template, or a public one — refuses tombstoned templates, counts one
-- install with a single atomic UPDATE, and returns the payload for the client to copy into its rows.
-- Errors: 42501 when not signed in; PT404 (PostgREST answers HTTP 404 with code "PT404"; a plain
-- P0002 would surface as HTTP 500) when the template does not exist or is not visible — the same
-- answer for both, so private templates of others stay undiscoverable.

create or replace function public.install_template(template_id uuid) returns jsonb
language plpgsql
volatile
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
  -- stamp_row keeps templates.installs unless this transaction-local flag is on.
  perform pg_catalog.set_config('mirari.counting_install', 'on', true);
  update public.templates as t
     set installs = t.installs + 1
   where t.id = install_template.template_id
     and t.deleted_at is null
     and (t.author_id = caller or t.is_public)
  returning t.payload into result;
  perform pg_catalog.set_config('mirari.counting_install', '', true);
  if result is null then
    raise exception 'template % not found', install_template.template_id
      using errcode = 'PT404', hint = 'It does not exist, was deleted, or is private to its author.';
  end if;
  return result;
end
$$;

comment on function public.install_template(uuid) is
  'Counts one install of a template the caller may see (own, or public) and returns its payload.';

revoke all on function public.install_template(uuid) from public, anon, authenticated, service_role;
grant execute on function public.install_template(uuid) to authenticated, service_role;
