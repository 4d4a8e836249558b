"""The `mirari` launcher: runs a command headless (agent.cli) or opens the window (desktop)."""
