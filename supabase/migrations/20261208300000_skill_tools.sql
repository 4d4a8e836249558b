-- MIRARI server schema: a skill may name the tools it needs (issue 22, docs/skills.md and docs/tools.md).
--
-- skills.tools  jsonb array of strings, default []: "server/tool" names, e.g. ["files/read_file"].
--     At most 32 names, each 3 to 128 characters: a server name (1–32 of [A-Za-z0-9_-], the rule of a
--     device's MCP server names, agent/tools/config.py), a slash, and the tool's name as its server lists it.
--
-- Only names: MCP server configurations are device-local (they name programs of one machine), so a name
-- never enables, adds or runs anything; each device offers a skill's named tools only when it has them
-- enabled, and reports the others as missing. The Skill Forge's tests offer the model the skill's tools.
--
-- Checked here, like the other jsonb checks (…100200_typed_json_checks): strict paths, the type tested
-- before anything is compared, so a number, a nested array or an object in the list is refused and no
-- client has to read a shape it cannot use. The client validates the same rules before it writes
-- (agent/skills/tools.py).
--
-- Existing skills get [] (a constant default rewrites no row and fires no trigger: nothing is restamped).
-- Row-level security, grants (table-wide, …100200) and the stamping trigger (it compares whole rows, so a
-- change of the list restamps updated_at; only template_prompt counts a version) apply unchanged.

alter table public.skills add column tools jsonb not null default '[]';

alter table public.skills
  -- case, not and: jsonb_array_length() raises on a non-array, and AND does not promise an order.
  add constraint skills_tools_shape check (case when jsonb_typeof(tools) = 'array' then coalesce(
    jsonb_array_length(tools) <= 32
    and not jsonb_path_exists(tools, 'strict $[*] ? (@.type() != "string"
          || !(@ like_regex "^[A-Za-z0-9_-]{1,32}/.")
          || @ like_regex "^.{129}" flag "s")', '{}', true),
    false) else false end);

comment on column public.skills.tools is
  'The tools a skill needs, as "server/tool" names (only names: they enable nothing on a device).';
