"""The local SQLite mirror of the Supabase schema: tables, sync state, paths, migrations, search."""
