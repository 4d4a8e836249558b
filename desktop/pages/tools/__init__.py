"""The Tools page: MCP servers, their tools and the tester."""
