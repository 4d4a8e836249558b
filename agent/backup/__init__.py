"""Backups and exports above the archive format (local_schema.backup): when to back up, which backups to
keep (thinning), what a restore does to a signed-in device's sync, exporting all data, and the
`mirari backup` / `mirari export` commands (cli.py). See docs/backup.md."""
