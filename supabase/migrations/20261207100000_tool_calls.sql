-- MIRARI server schema: tool calls and their results are messages (issue 22, docs/tools.md).
--
-- A turn that uses tools stores, in its conversation tree:
--   * the model's request as an assistant message whose `tool_calls` holds the calls, in OpenAI's shape:
--     [{"id": "call_1", "type": "function", "function": {"name": "files__read", "arguments": "{…}"}}]
--     (`content` is whatever text came with them, often empty);
--   * one message of role `tool` per call, `content` the result as text and `tool_call_id` the id of the
--     call it answers.
-- Both are what the next request sends back to the model, verbatim, so every device (and the model) reads
-- the same history. Checks: the shape above (an array of 1-64 objects, each with a string id, type
-- "function", a function name by OpenAI's rule ^[a-zA-Z0-9_-]{1,64}$ and string arguments), at most
-- 250,000 characters in all (the client keeps a call's arguments under 100,000 and the whole under
-- 200,000 in its compact rendering, which is shorter than PostgreSQL's); `tool_calls` only on assistant
-- messages; `tool_call_id` (1-200 characters) exactly on tool messages. Strict jsonpath with typed
-- comparisons, as …100200_typed_json_checks: a missing key or a value of another type is refused.
-- Existing rows are untouched (both columns null), so nothing is restamped or pulled again. Grants are
-- table-wide (…100200) and the stamping trigger compares whole rows: neither needs to change.

alter table public.messages
  drop constraint messages_role_check,
  add constraint messages_role_check check (role in ('system', 'user', 'assistant', 'tool')),
  add column tool_calls jsonb,
  add column tool_call_id text,
  add constraint messages_tool_call_id_length check (char_length(tool_call_id) between 1 and 200),
  add constraint messages_tool_roles check (
    (tool_calls is null or role = 'assistant') and ((role = 'tool') = (tool_call_id is not null))),
  -- case, not and: jsonb_array_length() raises on a non-array, and AND does not promise an order.
  add constraint messages_tool_calls_shape check (case
    when tool_calls is null then true
    when jsonb_typeof(tool_calls) <> 'array' then false
    else coalesce(
      jsonb_array_length(tool_calls) between 1 and 64
      and char_length(tool_calls::text) <= 250000
      and not jsonb_path_exists(tool_calls, 'strict $[*] ? (@.type() != "object"
            || !exists(@.keyvalue() ? (@.key == "id" && @.value.type() == "string"))
            || !exists(@.keyvalue() ? (@.key == "type" && @.value.type() == "string" && @.value == "function"))
            || !exists(@.keyvalue() ? (@.key == "function" && @.value.type() == "object")))', '{}', true)
      and not jsonb_path_exists(tool_calls, 'strict $[*].function ? (
            !exists(@.keyvalue() ? (@.key == "name" && @.value.type() == "string"
                                    && @.value like_regex "^[a-zA-Z0-9_-]{1,64}$"))
            || !exists(@.keyvalue() ? (@.key == "arguments" && @.value.type() == "string")))', '{}', true)
      and not jsonb_path_exists(tool_calls, 'strict $[*].id ? (!(@ like_regex "^.{1,200}$" flag "s"))',
                                '{}', true),
      false) end);

comment on column public.messages.tool_calls is
  'The tool calls an assistant message asked for, in OpenAI''s shape: [{id, type: "function", function: {name, arguments}}].';
comment on column public.messages.tool_call_id is
  'On a message of role tool: the id of the call (in its parent''s tool_calls) whose result it holds.';
