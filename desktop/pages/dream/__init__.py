"""Rite VII, the Dream page and its report view."""
