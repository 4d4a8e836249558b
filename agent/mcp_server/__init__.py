"""MIRARI's memory as an MCP server for other apps (`mirari mcp serve`): tools, access log, token (docs/tools.md)."""
