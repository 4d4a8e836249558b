"""Product logic without Qt: LLM client, chat turns, prompt assembly, Memory Atlas rules, keys, export."""
