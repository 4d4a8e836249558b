"""Product logic without Qt, one package per rite (chat, memory, skills, mirror, dream, templates,
connections, tasks, observatory, tools, …), each with its `mirari <noun> …` commands (cli.py); the model
client (llm/), prompt assembly (prompt.py) and the command line itself (cli/). Map: docs/architecture.md."""
