"""Rite II, the Console: a chat turn (turn), threads and their trees, authorship, export, and `mirari chat` / `mirari threads`."""
