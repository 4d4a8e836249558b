"""Tools: MCP servers as tools of a chat turn (the client side), and the tool loop (docs/tools.md)."""
