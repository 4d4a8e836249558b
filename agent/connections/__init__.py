"""Rite I, Bind: agent connections (rows), testing one (check), provider presets and input validation, and `mirari connections`."""
