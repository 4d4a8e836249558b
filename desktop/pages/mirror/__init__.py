"""Rite V, the Mirror page: the new-review form and the report view."""
