"""The Tasks board page."""
