"""The Settings page and its Backups card."""
