"""Talking to a model: the OpenAI-compatible client, its errors, server-sent events, and structured (JSON) answers with one repair."""
