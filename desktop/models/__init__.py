"""Qt item models: thin adapters from query results to views (no SQL, no widgets here)."""
