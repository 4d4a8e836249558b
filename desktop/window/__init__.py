"""The main window: navigation, menus, the status line, and the account flows (sign in and out, data switch)."""
