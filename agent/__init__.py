"""Product logic without Qt: LLM client, prompt assembly, memory strength, skills, mirror, templates."""
