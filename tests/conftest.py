"""Suite-wide fixtures live in plugins beside the parts they start, so any test directory can use them."""

pytest_plugins = [
    "tests.supabase_local.pytest_plugin",  # pg_cluster / server database with the real migrations
    "tests.supabase_local.stack_plugin",  # supabase_stack: the local Supabase stand-in (Auth + PostgREST)
    "tests.fake_openai",  # fake_llm: a real local OpenAI-compatible endpoint
    "tests.keyrings",  # memory_keyring: an in-memory keychain (no OS keychain runs here)
    "tests.faulty_proxy",  # faulty_proxy: a real HTTP server that hangs, dribbles or rewrites replies
]
