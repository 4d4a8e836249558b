"""Dialogs shared by the window and pages: sign in, sync panel, memory editor, tasks, skills, key-file passphrase, import, export all, add a tool server."""
