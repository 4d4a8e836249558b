"""Product logic without Qt: LLM client, chat turns, prompt assembly, Memory Atlas rules, Skill Forge
rules (skills, skill_tests, skill_runner, skill_suggest), keys, export, and the `mirari <noun> …`
command modules over them (agent/commands/)."""
