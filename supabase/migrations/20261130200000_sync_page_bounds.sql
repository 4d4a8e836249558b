-- MIRARI server schema: sync_page_bounds() — a big pull fetched several pages at a time.
--
-- A pull reads keyset pages (`updated_at > cursor order by updated_at limit 1000`): the cursor of page
-- N+1 is the last stamp of page N, so one table's pages can only be asked for one after another, and a
-- first sync waits for every round trip in turn. This function returns, for the caller, the stamp of
-- every `page_rows`-th row after `after_stamp` (at most `max_pages` of them, oldest first), as a JSON
-- array of timestamps. With them a client asks for the ranges (b[k], b[k+1]] at the same time.
--
-- Nothing depends on the answer being current: stamps are unique and commit-ordered per user
-- (sync_stamping), so a row committed later gets a stamp after every bound and a row updated meanwhile
-- leaves its range for a later stamp — a range can lose rows, never gain any. A client still reads each
-- range to its end (another page if one comes back full), so even a wrong bound costs a request, never
-- a row.
--
-- Security invoker: it reads as the caller, so RLS applies exactly as to a GET; the explicit owner filter
-- (the same one a pull sends) keeps other authors' public templates out and makes the scan one range of
-- the (owner, updated_at) unique index. Only the synced tables (found in the catalog as sync_heads finds
-- them) may be named.

create or replace function public.sync_page_bounds(tbl text, after_stamp timestamptz default null,
                                                   page_rows integer default 1000, max_pages integer default 1000)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  owner_col text;
  bounds jsonb;
begin
  if page_rows is null or page_rows < 1 or page_rows > 100000 then
    raise exception using errcode = '22023', message = 'page_rows must be between 1 and 100000';
  end if;
  if max_pages is null or max_pages < 1 or max_pages > 10000 then
    raise exception using errcode = '22023', message = 'max_pages must be between 1 and 10000';
  end if;
  select case when exists (select 1 from pg_catalog.pg_attribute a
                            where a.attrelid = c.oid and a.attname = 'author_id' and not a.attisdropped)
              then 'author_id' else 'user_id' end
    into owner_col
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
   where n.nspname = 'public' and c.relkind in ('r', 'p') and c.relname = tbl
     and exists (select 1 from pg_catalog.pg_attribute a
                  where a.attrelid = c.oid and a.attname = 'updated_at' and not a.attisdropped)
     and exists (select 1 from pg_catalog.pg_attribute a
                  where a.attrelid = c.oid and a.attname in ('user_id', 'author_id') and not a.attisdropped)
     and pg_catalog.has_table_privilege(c.oid, 'SELECT');
  if owner_col is null then
    raise exception using errcode = '42P01', message = pg_catalog.format('%s is not a synced table', tbl);
  end if;
  execute pg_catalog.format(
    'select coalesce(pg_catalog.jsonb_agg(s.updated_at order by s.updated_at), ''[]'') from ('
    ' select updated_at, pg_catalog.row_number() over (order by updated_at) as n from public.%I'
    ' where %I = (select auth.uid()) and ($1 is null or updated_at > $1)'
    ' order by updated_at limit $2::bigint * $3) s where s.n %% $2 = 0', tbl, owner_col)
    into bounds using after_stamp, page_rows, max_pages;
  return bounds;
end
$$;

comment on function public.sync_page_bounds(text, timestamptz, integer, integer) is
  'For the caller: the updated_at of every page_rows-th row of a synced table after after_stamp, so a pull '
  'can fetch several pages at once.';

revoke all on function public.sync_page_bounds(text, timestamptz, integer, integer)
  from public, anon, authenticated, service_role;
grant execute on function public.sync_page_bounds(text, timestamptz, integer, integer) to authenticated, service_role;
