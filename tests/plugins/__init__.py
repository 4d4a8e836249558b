"""pytest plugins listed in tests/conftest.py: the PostgreSQL cluster, the Supabase stand-in, the fake model, the in-memory keychain."""
