#!/usr/bin/env python3
"""Screenshots of sync in the window: the sign-in dialog, the status chip in each of its states and the
Sync panel with a refused change, light and dark.

Runs the real window under Xvfb against the Supabase stand-in (started here, with its fault injection
driving the states: nothing is drawn by hand) and the demo data:

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots_sync.py

Pictures land in docs/screenshots/ (sync-*.png).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen")
OUT = ROOT / "docs" / "screenshots"
SIZE = (1280, 800)


def pump(app, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def wait(app, condition, timeout: float = 30.0, what: str = "") -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise SystemExit(f"timed out waiting for {what}")
        pump(app, 0.05)


def footer_shot(window):
    """The sidebar's footer (account, chip, Sync now), a little wider than the widget for air."""
    footer = window.footer
    return footer.grab()


def stack_images(images, path: Path, background: str) -> None:
    from PySide6.QtGui import QColor, QPainter, QPixmap

    width = max(i.width() for i in images) + 24
    height = sum(i.height() for i in images) + 12 * (len(images) + 1)
    canvas = QPixmap(width, height)
    canvas.fill(QColor(background))
    painter = QPainter(canvas)
    y = 12
    for image in images:
        painter.drawPixmap(12, y, image)
        y += image.height() + 12
    painter.end()
    canvas.save(str(path))


def main() -> int:
    import httpx
    import keyring

    from standin.keyrings import MemoryKeyring

    class DemoKeyring(MemoryKeyring):  # the demo never touches a real keychain
        name = "SecretService"

    keyring.set_keyring(DemoKeyring())
    from desktop import theme
    from desktop.app import build_window, ensure_app
    from desktop.pages.console import actions
    from standin.demo.seed import build_demo
    from standin.model import FakeLLM
    from standin.server import start_cluster_stack
    from sync.secrets import SecretStore

    OUT.mkdir(parents=True, exist_ok=True)
    cluster, standin = start_cluster_stack()
    standin.start_in_thread()
    password = "demo-password-1"
    email = "ada@example.com"
    httpx.post(f"{standin.url}/auth/v1/signup", json={"email": email, "password": password},
               headers={"apikey": standin.anon_key}, timeout=30).raise_for_status()
    try:
        with tempfile.TemporaryDirectory(prefix="mirari-demo-") as tmp, FakeLLM() as fake:
            data_dir = Path(tmp)
            app = ensure_app()
            secrets = SecretStore(data_dir, backend=keyring.get_keyring())
            window = build_window(data_dir, secrets=secrets)
            window.resize(*SIZE)
            window.show()
            wait(app, lambda: bool(window.pages), what="the window")
            ids = build_demo(window.ctx.db, fake.base_url)
            window.pages["console"].refresh_threads(select=ids["Retry helper in Python"])
            pump(app, 0.5)

            # 1. The sign-in dialog, as a first-time user fills it in (and mistypes the password once).
            for mode in ("light", "dark"):
                theme.apply_theme(app, mode)
                window.sign_in()
                dialog = window.sign_in_dialog
                dialog.url_edit.setText(standin.url)
                dialog.key_edit.setText(standin.anon_key)
                dialog.email_edit.setText(email)
                dialog.password_edit.setText("not-my-password")
                dialog.sign_in_button.click()
                wait(app, lambda d=dialog: d.message.text() == "Wrong email or password.", what="the refusal")
                pump(app, 0.3)
                dialog.grab().save(str(OUT / f"sync-sign-in-{mode}.png"))
                dialog.reject()
            theme.apply_theme(app, "light")
            window.sign_in()
            dialog = window.sign_in_dialog
            dialog.email_edit.setText(email)
            dialog.password_edit.setText(password)
            dialog.sign_in_button.click()
            wait(app, lambda: window.ctx.sync.status.signed_in and window.ctx.sync.status.last_synced,
                 what="the first sync")
            sync, faults = window.ctx.sync, standin.faults
            console = window.pages["console"]
            states = {}

            def shoot(name: str) -> None:
                pump(app, 0.2)
                states[name] = {mode: None for mode in ("light", "dark")}
                for mode in ("light", "dark"):
                    theme.apply_theme(app, mode)
                    pump(app, 0.1)
                    states[name][mode] = footer_shot(window)

            def synced() -> bool:  # "● Live" while the live connection is up, else "✓ Synced 14:02"
                return window.footer.chip.text().startswith("✓ Synced") or window.footer.chip.text() == "● Live"

            wait(app, lambda: window.footer.chip.text() == "● Live", what="Live")
            shoot("live")
            theme.apply_theme(app, "light")
            window.grab().save(str(OUT / "sync-window-light.png"))
            sync.live.stop()  # without the live connection the chip says when it last synced
            wait(app, lambda: window.footer.chip.text().startswith("✓ Synced"), what="Synced")
            shoot("synced")
            sync._start_live()
            wait(app, lambda: window.footer.chip.text() == "● Live", what="Live again")

            # Waiting: an edit, before its debounced cycle (the debounce is stretched for the picture).
            sync.scheduler.debounce = 30
            actions.rename_thread(console, ids["Retry helper in Python"], "Retry helper (edited)")
            wait(app, lambda: window.footer.chip.text() == "↑ 1 waiting", what="waiting")
            shoot("waiting")
            sync.scheduler.debounce = sync.debounce

            # Syncing: the server holds the pull for a few seconds.
            faults.delay("GET", "/rest/v1/", 4.0, times=8)
            sync.request_sync()
            wait(app, lambda: window.footer.chip.text() == "⟳ Syncing…", what="Syncing")
            shoot("syncing")
            wait(app, synced, what="Synced again")
            faults.clear()

            # Refused: the server refuses a rename (RLS), shown with its reason in the Sync panel.
            faults.fail_next("PATCH", "/rest/v1/conversations", 403, {
                "code": "42501", "message": 'new row violates row-level security policy for table "conversations"',
                "details": None, "hint": None})
            actions.rename_thread(console, ids["Retry helper in Python"], "A title the server refuses")
            wait(app, lambda: window.footer.chip.text() == "✕ 1 refused", what="refused")
            shoot("refused")
            for mode in ("light", "dark"):
                theme.apply_theme(app, mode)
                panel = window.open_sync_panel()
                wait(app, lambda p=panel: p.refused_list.count() == 1, what="the panel")
                pump(app, 0.4)
                panel.grab().save(str(OUT / f"sync-panel-{mode}.png"))
                panel.close()
            theme.apply_theme(app, "light")
            panel = window.open_sync_panel()
            wait(app, lambda: panel.refused_list.count() == 1, what="the panel")
            panel.discard_selected(confirm=False)
            wait(app, synced, what="Synced after discard")
            panel.close()

            # Offline: every request dies on the way (the stand-in drops the connections).
            faults.drop_response_after_commit("*", "/rest/v1/", times=1000)
            actions.rename_thread(console, ids["Retry helper in Python"], "Renamed while offline")
            sync.request_sync()
            wait(app, lambda: window.footer.chip.text().startswith("○ Offline"), what="Offline")
            shoot("offline")
            faults.clear()

            # Sign-in needed: the session was revoked (signed out everywhere) and the token expired.
            user_id = window.ctx.sync.engine.sessions.current().user_id
            sync.engine.sessions._session.expires_at = time.time() - 1
            standin.revoke_refresh_tokens(user_id)
            sync.request_sync()
            wait(app, lambda: window.footer.chip.text() == "⚠ Sign-in needed", what="Sign-in needed")
            shoot("sign-in needed")

            from desktop.theme import DARK, LIGHT

            for mode, colors in (("light", LIGHT), ("dark", DARK)):
                stack_images([states[name][mode] for name in ("live", "synced", "syncing", "waiting", "offline",
                                                              "sign-in needed", "refused")],
                             OUT / f"sync-chip-states-{mode}.png", colors.sidebar)
            window.close()
            pump(app, 0.3)
            window.ctx.sync.stop()
            window.ctx.close_data()
    finally:
        standin.stop()
        cluster.stop()
    for path in sorted(OUT.glob("sync-*.png")):
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
