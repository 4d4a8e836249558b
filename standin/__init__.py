"""The stand-ins a developer runs instead of the real services: a local Supabase (PostgreSQL with the
real migrations, Auth, the PostgREST subset, Realtime, Storage; `python -m standin`, docs/standin.md),
a fake OpenAI-compatible model (`python -m standin.model`), keychain backends, an MCP fixture server,
and demo data (standin/demo). Used by tests, benchmarks and screenshot scripts; never bundled."""
