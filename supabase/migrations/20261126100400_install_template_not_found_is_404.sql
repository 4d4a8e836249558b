-- MIRARI server schema, part 5: install_template() reports "not found" as HTTP 404.
--
-- Part 4 raised P0002 (no_data_found) for a template the caller may not see, and PostgREST maps every
-- P0… code except P0001 to HTTP 500, so clients saw a server error for an ordinary "no such template".
-- A PTxyz SQLSTATE is PostgREST's documented way to choose the HTTP status: PT404 → 404, body code
-- "PT404". A new migration (not an edit of part 4) so projects that already pushed part 4 get it too.
-- Same visibility rule and the same answer for private, deleted and missing templates.

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

-- create or replace keeps the privileges; stated again so this file is complete on its own.
revoke all on function public.install_template(uuid) from public, anon, authenticated, service_role;
grant execute on function public.install_template(uuid) to authenticated, service_role;
