-- MIRARI server schema: what a Mirror review keeps beside its four columns (docs/mirror.md).
--
--   details          what the review was based on and what it changed, as one object:
--                    {"reviewer": {...}, "logs": {...}, "memory_used": [...], "skill_scores": [...]}
--                    (the shapes are documented in docs/mirror.md; the server only bounds the size)
--   previous_prompt  the connection's system prompt just before the report's suggested prompt was
--                    applied, so Undo can restore it on any device
--   applied_at       when the suggested prompt was applied; null = not applied (or undone)
--
-- The claims in strengths/weaknesses/recommendations stay jsonb arrays (their items are now objects
-- with the claim, its evidence and whether the evidence was found in the logs); the existing size
-- check covers them. New columns get no stamping change: stamp_row treats every client column alike.

alter table public.mirror_reports
  add column details jsonb not null default '{}',
  add column previous_prompt text,
  add column applied_at timestamptz,
  add constraint mirror_reports_details_is_object check (jsonb_typeof(details) = 'object'),
  add constraint mirror_reports_details_size check (octet_length(details::text) <= 100000),
  add constraint mirror_reports_previous_prompt_length check (char_length(previous_prompt) <= 200000);
