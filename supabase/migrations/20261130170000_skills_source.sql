-- MIRARI server schema: where a skill came from (`skills.source`), as memory nodes already record it.
--
-- A skill installed from a template keeps `template:<template id>`, so every device of the user can
-- show "installed from …" next to it (docs/skills.md). Null for skills made on the device
-- (drafted, typed). Same length rule as memory_nodes.source. Grants are table-wide (…100200), and the
-- stamping trigger compares whole rows, so neither needs to change.

alter table public.skills add column source text;
alter table public.skills add constraint skills_source_length check (char_length(source) <= 500);

comment on column public.skills.source is
  'Where the skill came from: template:<template id>, or null for one made by its owner.';
