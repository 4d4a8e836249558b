"""Rite VI, the Observatory: the home screen."""
