"""Rite I, Bind: the connections page."""
