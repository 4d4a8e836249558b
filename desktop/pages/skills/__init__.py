"""Rite IV, the Skill Forge page and its skill detail."""
