import pytest

from agent.connections.presets import PRESETS, preset
from agent.connections.validation import base_url_problem, clean_base_url, validate_connection


def test_the_five_presets_of_the_spec():
    assert [(p.label, p.provider, p.base_url, p.model) for p in PRESETS] == [
        ("Hermes · Local", "hermes", "http://localhost:11434/v1", "hermes3"),
        ("Hermes · Cloud", "hermes", "https://api.hermes.ai/v1", "hermes-3-llama-3.1-70b"),
        ("OpenRouter", "openrouter", "https://openrouter.ai/api/v1", "nousresearch/hermes-3-llama-3.1-70b"),
        ("Nous", "nous", "https://inference-api.nousresearch.com/v1", "Hermes-3-Llama-3.1-70B"),
        ("Custom", "custom", "", ""),
    ]
    assert preset("openrouter").form_fields()["provider"] == "openrouter"
    with pytest.raises(KeyError):
        preset("nope")


def test_every_filled_preset_validates_and_custom_needs_url_and_model():
    for p in PRESETS[:4]:
        assert validate_connection(**p.form_fields()) == {}
    assert validate_connection(**preset("custom").form_fields()) == {
        "base_url": "Enter the base URL, e.g. http://localhost:11434/v1.",
        "model": "Enter the model name, e.g. hermes3.",
    }


@pytest.mark.parametrize("url, problem", [
    ("ftp://host/v1", "The base URL must start with http:// or https://."),
    ("localhost:11434/v1", "The base URL must start with http:// or https://."),
    ("http:///v1", "The base URL needs a host name, e.g. http://localhost:11434/v1."),
    ("http://host:99999/v1", "The port in the base URL must be a number between 1 and 65535."),
    ("http://host:0/v1", "The port in the base URL must be a number between 1 and 65535."),
    ("http://ho st/v1", "The base URL must not contain spaces."),
    ("http://host/v1?x=1", "The base URL must not contain '?' or '#'."),
    ("http://host/v1/chat/completions",
     "Leave out /chat/completions: the base URL is the root it is appended to (usually ending in /v1)."),
    ("  https://host:8080/v1/  ", None),
])
def test_base_url_problems(url, problem):
    assert base_url_problem(url) == problem


def test_name_model_provider_messages():
    assert validate_connection("  ", "http://h/v1", "m x", "other") == {
        "name": "Give the connection a name.",
        "model": "The model name must not contain spaces.",
        "provider": "Choose a provider: hermes, openrouter, nous or custom.",
    }
    assert clean_base_url(" http://h/v1/ ") == "http://h/v1"


def test_values_the_server_would_reject_are_refused_in_the_form():
    # agent_connections: model <= 500 and base_url <= 2048 characters on the server; a longer one would
    # save locally and then be rejected by sync forever.
    problems = validate_connection("n", "http://h/" + "p" * 2100, "m" * 501, "custom")
    assert problems["base_url"] == "The base URL is too long (at most 2048 characters)."
    assert problems["model"] == "The model name is too long (at most 500 characters)."
    assert validate_connection("n", "http://h/" + "p" * 2000, "m" * 500, "custom") == {}
