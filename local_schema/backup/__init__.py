"""Backups of a local database: `.mirari-backup` archives (a consistent snapshot, the attachments' files
and a manifest of hashes and counts), verifying them, restoring one without ever leaving a half-restored
database, and the folder they live in. Plain sqlite3 and the standard library: no Qt, no sync.

Here because the lowest layer that needs it is this one: a migration makes a "before migration" archive
(local_schema.prepare) and recovery restores from archives (local_schema.safety). Policies above it
(when to back up, thinning, what a restore does to sync) live in agent/backup/. See docs/backup.md.
"""
