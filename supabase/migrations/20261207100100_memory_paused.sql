-- MIRARI server schema: a memory node can be paused (issue 22, docs/tools.md and docs/memory.md).
--
-- A paused fact is kept — it stays in the Atlas, keeps its strength and can be resumed — but it is never
-- injected into a chat turn's memory block and never served to an outside app through `mirari mcp serve`.
-- Synced, so a fact paused on one device is paused on all of them (the clients enforce it when they build
-- a prompt or answer an app). Existing nodes are not paused: adding a column with a constant default
-- rewrites no row and fires no trigger, so nothing is restamped. Grants are table-wide (…100200) and the
-- stamping trigger compares whole rows: neither needs to change.

alter table public.memory_nodes add column paused boolean not null default false;

comment on column public.memory_nodes.paused is
  'A paused fact is kept but never injected into prompts nor served to outside apps.';
