"""The five connection presets of Bind (rite I): one click fills the form, then it is editable."""

from __future__ import annotations

from dataclasses import dataclass

PROVIDERS = ("hermes", "openrouter", "nous", "custom")


@dataclass(frozen=True)
class Preset:
    key: str  # stable identifier for the UI
    label: str  # shown on the button and used as the default connection name
    provider: str
    base_url: str
    model: str

    def form_fields(self) -> dict[str, str]:
        """Initial values of the connection form."""
        return {"name": self.label, "provider": self.provider, "base_url": self.base_url, "model": self.model}


PRESETS: tuple[Preset, ...] = (
    Preset("hermes-local", "Hermes · Local", "hermes", "http://localhost:11434/v1", "hermes3"),
    Preset("hermes-cloud", "Hermes · Cloud", "hermes", "https://api.hermes.ai/v1", "hermes-3-llama-3.1-70b"),
    Preset("openrouter", "OpenRouter", "openrouter", "https://openrouter.ai/api/v1",
           "nousresearch/hermes-3-llama-3.1-70b"),
    Preset("nous", "Nous", "nous", "https://inference-api.nousresearch.com/v1", "Hermes-3-Llama-3.1-70B"),
    Preset("custom", "Custom", "custom", "", ""),
)


def preset(key: str) -> Preset:
    for p in PRESETS:
        if p.key == key:
            return p
    raise KeyError(f"no preset {key!r}; known: {', '.join(p.key for p in PRESETS)}")
