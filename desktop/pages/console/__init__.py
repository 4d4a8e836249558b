"""Rite II, the Console: the chat page (view, page, transcript, turns, actions)."""
