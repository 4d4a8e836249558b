"""Suite-wide fixtures live in plugins beside the parts they start, so any test directory can use them."""

pytest_plugins = [
    "tests.plugins.pg_cluster",  # pg_cluster / server database with the real migrations
    "tests.plugins.supabase_stack",  # supabase_stack: the local Supabase stand-in (Auth + PostgREST)
    "tests.plugins.fake_llm",  # fake_llm: a real local OpenAI-compatible endpoint
    "tests.plugins.keyrings",  # memory_keyring: an in-memory keychain (no OS keychain runs here)
    "tests.faulty_proxy",  # faulty_proxy: a real HTTP server that hangs, dribbles or rewrites replies
]
