"""Reusable widgets and painting helpers."""
