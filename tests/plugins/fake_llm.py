"""The `fake_llm` fixture: a fresh fake OpenAI-compatible endpoint (standin.model) per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from standin.model import FakeLLM


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    """A fresh fake endpoint per test: `fake_llm.base_url`, `.reply(...)`, `.enqueue(...)`, `.requests`."""
    with FakeLLM() as fake:
        yield fake
