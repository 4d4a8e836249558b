-- MIRARI server schema: skill tests travel with their skill (Skill Forge, docs/skills.md).
--
-- skills.test_cases  jsonb array, default []: the skill's test cases
--     [{"prompt": "...", "expectations": [{"kind": "contains", "value": "..."}, ...]}, ...]
--     kinds: contains / not_contains / regex (value: a string), max_chars (value: a number >= 1),
--     is_json (no value).
-- skills.last_test   jsonb object or null: the result of the last "Run tests"
--     {"version": 3, "with_rate": 0.83, "without_rate": 0.33, "delta": 0.5, "cases_hash": "...", ...}
--
-- Columns of skills rather than a child table: cases and result belong to one skill and are read,
-- edited, synced, bundled into templates and deleted together with it. Row-level security, grants,
-- the stamping trigger (a change of either column restamps updated_at; neither changes `version`,
-- only template_prompt does) and tombstones of skills apply to them unchanged. Two devices editing
-- the cases of one skill at once: the last to reach the server wins the whole list, like any column.
--
-- Shape and size are checked here so one bad client cannot store megabytes or a shape other clients
-- cannot read; the client validates the same rules (and tighter per-string limits) before it writes.

alter table public.skills
  add column test_cases jsonb not null default '[]',
  add column last_test jsonb;

alter table public.skills
  -- case, not and: jsonb_array_length() raises on a non-array, and AND does not promise an order.
  add constraint skills_test_cases_shape check (case when jsonb_typeof(test_cases) = 'array' then
    jsonb_array_length(test_cases) <= 20
    and not jsonb_path_exists(test_cases, '$[*] ? (@.type() != "object"
          || !exists(@.prompt) || @.prompt.type() != "string"
          || !exists(@.expectations) || @.expectations.type() != "array" || @.expectations.size() > 10)')
    and not jsonb_path_exists(test_cases, '$[*].expectations[*] ? (@.type() != "object"
          || !(@.kind == "contains" || @.kind == "not_contains" || @.kind == "regex"
               || @.kind == "max_chars" || @.kind == "is_json"))')
    and not jsonb_path_exists(test_cases, '$[*].expectations[*] ? (
          (@.kind == "contains" || @.kind == "not_contains" || @.kind == "regex")
          && (!exists(@.value) || @.value.type() != "string"))')
    and not jsonb_path_exists(test_cases, '$[*].expectations[*] ? (@.kind == "max_chars"
          && (!exists(@.value) || @.value.type() != "number" || @.value < 1))')
    else false end),
  add constraint skills_test_cases_size check (octet_length(test_cases::text) <= 200000),
  -- coalesce: a missing key makes the path test null, and a null CHECK would pass.
  add constraint skills_last_test_shape check (last_test is null or coalesce(
    jsonb_typeof(last_test) = 'object'
    and jsonb_path_exists(last_test, '$ ? (@.version.type() == "number" && @.version >= 1
          && @.with_rate.type() == "number" && @.with_rate >= 0 && @.with_rate <= 1
          && @.without_rate.type() == "number" && @.without_rate >= 0 && @.without_rate <= 1)'),
    false)),
  add constraint skills_last_test_size check (octet_length(last_test::text) <= 50000);
