"""Product logic without Qt: LLM client, chat turns, prompt assembly, Memory Atlas rules, keys, export,
and the `mirari <noun> …` command modules over them (agent/commands/)."""
