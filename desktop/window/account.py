"""Sign in, sign out and switch account from the open window (no restart, no command line).

Signing in changes whose database is open (the first sign-in on a device also claims the signed-out
rows and moves the file), so it goes through desktop.data_switch; so does signing out with "remove
local data". Signing out and keeping the data leaves the same database open: only sync stops.
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from desktop.bus import bus
from desktop.data_switch import DataSwitch
from desktop.ops import Op
from desktop.safe_text import message_box


def open_sign_in(window) -> None:
    from desktop.dialogs.sign_in import SignInDialog

    dialog = SignInDialog(window.ctx, window)
    dialog.signed_in.connect(lambda session: finish_sign_in(window, session))
    window.sign_in_dialog = dialog  # tests and screenshots reach it here
    dialog.open()


def finish_sign_in(window, session) -> DataSwitch:
    """Close the database, record the sign-in (claiming the signed-out rows the first time), reopen."""
    engine = window.ctx.sync.engine  # the window's one engine (desktop.sync_controller)

    def change():
        engine.finish_sign_in(session, app_lock_held=True)
        return session

    switch = DataSwitch(window, change, f"Opening {session.email}'s data…")
    switch.done.connect(lambda s: bus.notice.emit(f"Signed in as {s.email}: syncing"))
    switch.failed.connect(lambda exc: bus.error.emit(f"Could not sign in: {exc}"))
    window.data_switch = switch
    return switch.start()


def ask_sign_out(window) -> None:
    status = window.ctx.sync.status
    who = status.email or "this account"
    unsent = (f"\n\n{status.waiting:,} change(s) have not reached the server yet: removing the local data "
              "loses them." if status.waiting else "")
    box = message_box(QMessageBox.Icon.Question, "Sign out",
                      f"Sign out of {who}? Sync stops.\n\nKeep the data on this computer (it stays visible and "
                      "syncs again when you sign back in), or remove it (what was synced stays in your "
                      f"Supabase project).{unsent}", parent=window)
    keep = box.addButton("Keep data, sign out", QMessageBox.ButtonRole.AcceptRole)
    remove = box.addButton("Remove local data, sign out", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(keep)
    window.sign_out_box = box
    box.exec()
    if box.clickedButton() is keep:
        sign_out(window, remove_data=False)
    elif box.clickedButton() is remove:
        sign_out(window, remove_data=True)


def sign_out(window, remove_data: bool):
    ctx = window.ctx
    engine = ctx.sync.engine

    def change():
        return engine.sign_out(remove_data=remove_data, app_lock_held=remove_data)

    if remove_data:
        switch = DataSwitch(window, change, "Removing this account's data…")
        switch.done.connect(lambda _p: bus.notice.emit("Signed out; this account's local data was removed"))
        switch.failed.connect(lambda exc: bus.error.emit(f"Could not sign out: {exc}"))
        window.data_switch = switch
        return switch.start()

    def keep():
        ctx.sync.stop()  # off the UI thread: a cycle in flight finishes first
        return change()

    return Op(window, keep, "Signing out").success(
        lambda _p: (ctx.sync.start(), bus.notice.emit("Signed out; sync stopped, your data stays here"))).failure(
        lambda exc: (ctx.sync.start(), bus.error.emit(f"Could not sign out: {exc}"))).run()
