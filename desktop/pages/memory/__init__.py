"""Rite III, the Memory Atlas page and its "What the agent sees" panel."""
