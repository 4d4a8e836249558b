"""Rite VI, the Observatory: the counts and charts of the home screen (stats) and `mirari stats`."""
