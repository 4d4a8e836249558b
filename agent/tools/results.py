"""What an MCP tool gave back, as the bounded plain text a `tool` message stores and the model reads.

A server's reply is untrusted: any size, any characters. Text blocks are kept as they are (NUL and lone
surrogates cleaned, as every stored text is: agent.storable); an image or audio block becomes a one-line
note (attachments come later); an embedded resource gives its text, a link its address; with no text at
all the structured result is shown as JSON. The whole is cut at `RESULT_LIMIT` characters with a marker
that says how much was left out, so a megabyte answer never reaches the model or the database whole.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from agent.storable import clean_text

RESULT_LIMIT = 40_000  # characters of one result kept (about 10,000 tokens); messages hold 200,000 at most
TRUNCATED = "\n\n[… result truncated: {more:,} more characters not shown]"
DESCRIPTION_LIMIT = 2_000  # a tool's description as offered to the model
SCHEMA_LIMIT = 20_000  # characters of a tool's input schema (JSON); a larger one is offered without it


@dataclass(frozen=True)
class ToolInfo:
    """A tool as a server listed it."""

    name: str
    description: str = ""
    input_schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class ToolResult:
    """A finished call. `text` is what is stored and sent back; `is_error` when the tool said it failed."""

    text: str
    is_error: bool = False
    truncated: bool = False
    full_length: int = 0  # characters before truncation


def bounded(text: str, limit: int = RESULT_LIMIT) -> tuple[str, bool]:
    text = clean_text(text)
    if len(text) <= limit:
        return text, False
    return text[:limit] + TRUNCATED.format(more=len(text) - limit), True


def _block_text(block: Any) -> str:
    kind = getattr(block, "type", None)
    if kind == "text":
        return str(getattr(block, "text", ""))
    if kind in ("image", "audio"):
        mime = getattr(block, "mime_type", None) or getattr(block, "mimeType", None) or "unknown type"
        size = len(getattr(block, "data", "") or "") * 3 // 4
        return f"[{kind}: {mime}, about {size:,} bytes — not shown]"
    if kind == "resource":
        resource = getattr(block, "resource", None)
        text = getattr(resource, "text", None)
        if isinstance(text, str):
            return text
        return f"[resource {getattr(resource, 'uri', '')}: binary, not shown]"
    if kind == "resource_link":
        return f"[resource link: {getattr(block, 'uri', '')}]"
    return f"[{kind or 'unknown'} content, not shown]"


def result_from_mcp(result: Any, limit: int = RESULT_LIMIT) -> ToolResult:
    """A ToolResult from the SDK's CallToolResult (duck-typed: content, structured_content, is_error)."""
    parts = [_block_text(block) for block in (getattr(result, "content", None) or [])]
    text = "\n".join(part for part in parts if part)
    structured = getattr(result, "structured_content", None)
    if not text and structured is not None:
        text = json.dumps(structured, ensure_ascii=False, default=str)
    full = len(text)
    text, cut = bounded(text, limit)
    return ToolResult(text, bool(getattr(result, "is_error", False)), cut, full)


def tool_from_mcp(tool: Any) -> ToolInfo:
    """A ToolInfo from the SDK's Tool, bounded: the description cut, an oversized schema dropped."""
    description = clean_text(str(getattr(tool, "description", None) or ""))[:DESCRIPTION_LIMIT]
    schema = getattr(tool, "input_schema", None)
    if not isinstance(schema, dict) or len(json.dumps(schema, default=str)) > SCHEMA_LIMIT:
        schema = None
    return ToolInfo(clean_text(str(tool.name)), description, schema)
