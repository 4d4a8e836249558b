"""The sidebar footer: who is signed in ("Sign in…" when nobody is), the sync status chip and Sync now.

The chip says one thing, the most important first: Syncing…, Project key changed, Key file locked,
Sign-in needed, Offline, Sync error, N refused, N waiting, then Live (the server's pokes arrive) or
Synced 14:02. Clicking it opens the Sync panel. The footer only shows the
controller's status; the actions it offers are signals the main window connects.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QMenu, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from desktop.safe_text import tip


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}"


def chip_text(status) -> tuple[str, str, str]:
    """(text, tone, tooltip) for a desktop.sync_controller.SyncStatus; tone styles the chip."""
    from sync.engine import ERROR, KEY_REFUSED, LOCKED, OFFLINE, SIGN_IN_NEEDED, UPDATE_REQUIRED

    waiting = f" · {_plural(status.waiting, 'waiting')}" if status.waiting else ""
    detail = status.detail or ""
    if status.syncing:
        return "⟳ Syncing…", "busy", "Sending and receiving changes"
    if status.state == KEY_REFUSED:
        return f"⚠ Project key changed{waiting}", "warn", (
            "Your Supabase project refused its anon key (“Invalid API key”): the project changed its key. "
            "Choose “Sign in again…” and paste the new anon key (Project Settings → API). Your changes wait here.")
    if status.state == LOCKED:
        return f"⚠ Key file locked{waiting}", "warn", (
            "Your sync session is kept in the encrypted key file, which is locked: choose “Unlock key "
            "file…” and enter its passphrase. Your changes wait here.")
    if status.state == SIGN_IN_NEEDED:
        return "⚠ Sign-in needed", "warn", "Your session ended: sign in again to resume sync. " + detail
    if status.state == OFFLINE:
        return f"○ Offline{waiting}", "off", ("The server cannot be reached; changes wait here and are sent "
                                              "when it is back. " + detail).strip()
    if status.state == UPDATE_REQUIRED:
        return "⚠ Update required", "warn", detail
    if status.state == ERROR:
        return f"⚠ Sync error{waiting}", "error", detail
    if status.refused:
        return f"✕ {_plural(status.refused, 'refused')}", "error", "The server refused some changes: open to see why"
    if status.waiting:
        return f"↑ {_plural(status.waiting, 'waiting')}", "busy", "Changes not sent yet"
    if status.last_synced is not None:
        synced = time.strftime('%H:%M', time.localtime(status.last_synced))
        if getattr(status, "live", False):
            return ("● Live", "ok", "Everything is synced, and changes from your other devices arrive within a "
                    f"second (last sync {synced})")
        return f"✓ Synced {synced}", "ok", "Everything is synced"
    return "⟳ Syncing…", "busy", "The first sync is starting"


class SyncFooter(QWidget):
    sign_in_requested = Signal()
    unlock_requested = Signal()
    sign_out_requested = Signal()
    panel_requested = Signal()
    sync_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        col = QVBoxLayout(self)
        col.setContentsMargins(8, 4, 6, 2)
        col.setSpacing(4)
        self.account_button = QToolButton(objectName="AccountButton")
        self.account_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.account_button.clicked.connect(self._account_clicked)
        self.account_button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.account_menu = QMenu(self.account_button)
        # Shown when the session ended (revoked, refresh refused): the same dialog, the same account.
        self.sign_in_again_action = self.account_menu.addAction("Sign in again…", self.sign_in_requested.emit)
        # Shown when the session is in the locked key file (the start-up prompt was put off).
        self.unlock_action = self.account_menu.addAction("Unlock key file…", self.unlock_requested.emit)
        self.account_menu.addAction("Sync panel…", self.panel_requested.emit)
        self.account_menu.addAction("Sync now\tF5", self.sync_requested.emit)
        self.account_menu.addSeparator()
        self.sign_out_action = self.account_menu.addAction("Sign out…", self.sign_out_requested.emit)
        row = QHBoxLayout()
        row.setSpacing(2)
        row.addWidget(self.account_button, 1)
        self.sync_now = QToolButton(objectName="SyncNow", text="⟳")
        self.sync_now.setToolTip("Sync now (F5)")
        self.sync_now.clicked.connect(self.sync_requested.emit)
        row.addWidget(self.sync_now)
        col.addLayout(row)
        # The chip has the footer's whole width to itself: "○ Offline · 12 waiting" must not be cut.
        self.chip = QToolButton(objectName="SyncChip")
        self.chip.clicked.connect(self.panel_requested.emit)
        col.addWidget(self.chip, 0, Qt.AlignmentFlag.AlignLeft)
        self.show_status(None)

    def _account_clicked(self) -> None:
        if self.account_button.menu() is None:
            self.sign_in_requested.emit()

    def show_status(self, status) -> None:
        signed_in = status is not None and status.signed_in
        if signed_in:
            self.account_button.setText(f"{status.email or 'Signed in'} ▾")
            self.account_button.setToolTip(tip(f"Signed in to {status.url or 'your Supabase project'}"))
            self.account_button.setMenu(self.account_menu)
        else:
            self.account_button.setMenu(None)
            self.account_button.setText("Sign in…")
            self.account_button.setToolTip("Sign in to your Supabase project to sync this data between devices")
        self.chip.setVisible(signed_in)
        self.sync_now.setVisible(signed_in)
        if not signed_in:
            return
        from sync.engine import KEY_REFUSED, LOCKED, SIGN_IN_NEEDED

        self.sign_in_again_action.setVisible(status.state in (SIGN_IN_NEEDED, KEY_REFUSED))
        self.unlock_action.setVisible(status.state == LOCKED)
        text, tone, explanation = chip_text(status)
        self.chip.setText(text)
        self.chip.setToolTip(tip(explanation))
        if self.chip.property("tone") != tone:
            self.chip.setProperty("tone", tone)
            self.chip.style().unpolish(self.chip)
            self.chip.style().polish(self.chip)
