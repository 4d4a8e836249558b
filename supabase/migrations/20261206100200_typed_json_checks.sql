-- MIRARI server schema: the jsonb shape checks of dream proposals and skill test cases look at types first.
--
-- The checks of …180000_dream_reports and …150000_skill_tests ran in SQL/JSON's lax mode and compared
-- values directly, which let non-strings through:
--   * a comparison of different types (1 == "open", 5 == "contains") is "unknown", and a filter drops an
--     unknown item, so `!(@.state == "open" || …)` flagged nothing for a state of 1 or true, nor a kind of 5;
--   * lax mode unwraps arrays, so ["open"] == "open" was true, and `$[*] ? (…)` looked inside a nested
--     array instead of refusing it ([[{"state": "open"}]] passed).
-- Every client then failed on them (a report pane emptied by "Unexpected error", a test case no one can run).
-- Now the paths are strict (no unwrapping) and each value's type is checked before it is compared. Strict
-- mode makes a missing key an error, which a filter would also turn into "unknown"; so a key is looked up
-- with keyvalue() — "has a key k whose value is a string and one of …" — which is plainly false when the
-- key is missing. Errors outside a filter (e.g. `$[*].expectations[*]` where a case has none) are silenced
-- (the 4th argument) into null, and coalesce() turns null into a refusal: such a value is refused anyway.
--
-- Rows stored under the old checks that the new ones refuse (only a client writing by hand could make
-- them) are repaired first, through the stamping trigger so every device pulls the repair:
--   * a proposal whose state is not one of the three strings is "rejected" (nothing is applied; the user
--     can read it; a dream only ever proposes); an array in place of a proposal becomes a rejected one;
--   * an expectation whose kind is not one of the five strings is removed (no client can run it), and so
--     is anything but an object in place of an expectation or a case.
-- A row the repair leaves as it was is not written (and keeps its stamp).

with repaired as (
  select d.id, (select coalesce(jsonb_agg(case
                  when jsonb_typeof(p) = 'object' and jsonb_typeof(p -> 'state') = 'string'
                       and p ->> 'state' in ('open', 'accepted', 'rejected') then p
                  when jsonb_typeof(p) = 'object' then p || '{"state": "rejected"}'
                  else jsonb_build_object('state', 'rejected', 'value', p) end order by n), '[]')
                  from jsonb_array_elements(d.proposals) with ordinality as e(p, n)) as proposals
    from public.dream_reports d
   where jsonb_typeof(d.proposals) = 'array')
update public.dream_reports d
   set proposals = r.proposals
  from repaired r
 where d.id = r.id and d.proposals is distinct from r.proposals;

-- (a case that is not an object could only be an array the lax check looked inside: it is dropped too)
with repaired as (
  select s.id, (select coalesce(jsonb_agg(jsonb_set(c, '{expectations}', (
                    select coalesce(jsonb_agg(x order by m), '[]')
                      from jsonb_array_elements(c -> 'expectations') with ordinality as f(x, m)
                     where jsonb_typeof(x) = 'object' and jsonb_typeof(x -> 'kind') = 'string'
                       and x ->> 'kind' in ('contains', 'not_contains', 'regex', 'max_chars', 'is_json')))
                  order by n), '[]')
                  from jsonb_array_elements(s.test_cases) with ordinality as e(c, n)
                 where jsonb_typeof(c) = 'object' and jsonb_typeof(c -> 'expectations') = 'array') as test_cases
    from public.skills s
   where jsonb_typeof(s.test_cases) = 'array')
update public.skills s
   set test_cases = r.test_cases
  from repaired r
 where s.id = r.id and s.test_cases is distinct from r.test_cases;

alter table public.dream_reports
  drop constraint dream_reports_shape,
  add constraint dream_reports_shape check (coalesce(
    jsonb_typeof(budget) = 'object'
    and jsonb_typeof(findings) = 'array'
    and jsonb_typeof(proposals) = 'array'
    and not jsonb_path_exists(proposals, 'strict $[*] ? (@.type() != "object"
          || !exists(@.keyvalue() ? (@.key == "state" && @.value.type() == "string"
               && (@.value == "open" || @.value == "accepted" || @.value == "rejected"))))', '{}', true),
    false));

alter table public.skills
  drop constraint skills_test_cases_shape,
  -- case, not and: jsonb_array_length() raises on a non-array, and AND does not promise an order.
  add constraint skills_test_cases_shape check (case when jsonb_typeof(test_cases) = 'array' then coalesce(
    jsonb_array_length(test_cases) <= 20
    and not jsonb_path_exists(test_cases, 'strict $[*] ? (@.type() != "object"
          || !exists(@.keyvalue() ? (@.key == "prompt" && @.value.type() == "string"))
          || !exists(@.keyvalue() ? (@.key == "expectations" && @.value.type() == "array"
                                     && @.value.size() <= 10)))', '{}', true)
    and not jsonb_path_exists(test_cases, 'strict $[*].expectations[*] ? (@.type() != "object"
          || !exists(@.keyvalue() ? (@.key == "kind" && @.value.type() == "string"
               && (@.value == "contains" || @.value == "not_contains" || @.value == "regex"
                   || @.value == "max_chars" || @.value == "is_json"))))', '{}', true)
    and not jsonb_path_exists(test_cases, 'strict $[*].expectations[*] ? (
          exists(@.keyvalue() ? (@.key == "kind" && @.value.type() == "string"
                 && (@.value == "contains" || @.value == "not_contains" || @.value == "regex")))
          && !exists(@.keyvalue() ? (@.key == "value" && @.value.type() == "string")))', '{}', true)
    and not jsonb_path_exists(test_cases, 'strict $[*].expectations[*] ? (
          exists(@.keyvalue() ? (@.key == "kind" && @.value.type() == "string" && @.value == "max_chars"))
          && !exists(@.keyvalue() ? (@.key == "value" && @.value.type() == "number" && @.value >= 1)))',
          '{}', true),
    false) else false end);
