#!/usr/bin/env python3
"""Screenshots of keys and session on a computer without an OS keychain: the sign-in dialog offering where
to keep the session, the passphrase prompt at start-up, the dialog for a key that cannot be stored, and
the chip's "Key file locked" / "Project key changed" states, light and dark.

Runs the real window under Xvfb against the Supabase stand-in (started here; nothing is drawn by hand):

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots_keys.py

Pictures land in docs/screenshots/ (keys-*.png).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen")
OUT = ROOT / "docs" / "screenshots"
SIZE = (1280, 800)
PASSPHRASE = "correct horse battery"

from scripts.screenshots_sync import pump, stack_images, wait  # noqa: E402


def main() -> int:
    import httpx
    import keyring
    import keyring.backends.fail

    keyring.set_keyring(keyring.backends.fail.Keyring())  # this computer has no OS keychain
    from desktop import theme
    from desktop.app import build_window, ensure_app
    from standin.server import start_cluster_stack
    from standin.tokens import access_token
    from sync import config
    from sync.secrets import SecretStore

    OUT.mkdir(parents=True, exist_ok=True)
    cluster, standin = start_cluster_stack()
    standin.start_in_thread()
    email, password = "ada@example.com", "demo-password-1"
    httpx.post(f"{standin.url}/auth/v1/signup", json={"email": email, "password": password},
               headers={"apikey": standin.anon_key}, timeout=30).raise_for_status()
    app = ensure_app()
    made = []
    try:
        with tempfile.TemporaryDirectory(prefix="mirari-keys-") as tmp:
            def window_on(name: str):
                data_dir = Path(tmp) / name
                data_dir.mkdir()
                window = build_window(data_dir, secrets=SecretStore(data_dir, backend=keyring.get_keyring()))
                window.resize(*SIZE)
                window.show()
                wait(app, lambda: bool(window.pages), what="the window")
                made.append(window)
                return window

            # 1. A fresh device signs in: the dialog asks where to keep the session.
            window = window_on("fresh")
            for mode in ("light", "dark"):
                theme.apply_theme(app, mode)
                window.sign_in()
                dialog = window.sign_in_dialog
                dialog.url_edit.setText(standin.url)
                dialog.key_edit.setText(standin.anon_key)
                dialog.email_edit.setText(email)
                dialog.password_edit.setText(password)
                dialog.store_choice.passphrase.setText(PASSPHRASE)
                dialog.store_choice.repeat.setText(PASSPHRASE)
                pump(app, 0.4)
                dialog.grab().save(str(OUT / f"keys-sign-in-choice-{mode}.png"))
                if mode == "dark":
                    break
                dialog.reject()
            theme.apply_theme(app, "light")
            dialog.sign_in_button.click()  # the dark one, filled in: sign in for real
            wait(app, lambda: window.ctx.sync.status.signed_in and window.ctx.sync.status.last_synced,
                 what="the first sync")

            # 2. Bind on a device where nothing has been chosen yet: the key cannot be stored.
            keyless = window_on("keyless")
            bind = keyless.show_page("bind")
            bind.preset_buttons["Custom"].click()
            bind.name_edit.setText("My endpoint")
            bind.url_edit.setText("https://api.example.com/v1")
            bind.model_edit.setText("hermes-3")
            bind.key_edit.setText("sk-live-0123456789abcdef")
            bind.save_button.click()
            wait(app, lambda: getattr(bind, "key_error_box", None) is not None and bind.key_error_box.isVisible(),
                 what="the key dialog")
            pump(app, 0.4)
            bind.key_error_box.grab().save(str(OUT / "keys-not-stored-light.png"))
            bind.key_error_box.reject()
            keyless.close()

            # 3. The first device starts again: its key file is locked, the window asks once.
            data_dir = window.ctx.data_dir
            window.close()
            pump(app, 0.3)
            window.ctx.sync.stop()
            window.ctx.close_data()
            chips = {}
            for mode in ("light", "dark"):
                theme.apply_theme(app, mode)
                restarted = build_window(data_dir, secrets=SecretStore(data_dir, backend=keyring.get_keyring()))
                restarted.resize(*SIZE)
                restarted.show()
                made.append(restarted)
                wait(app, lambda w=restarted: w.passphrase_dialog is not None and w.passphrase_dialog.isVisible(),
                     what="the passphrase prompt")
                wait(app, lambda w=restarted: w.footer.chip.text().startswith("⚠ Key file locked"), what="locked")
                prompt = restarted.passphrase_dialog
                prompt.passphrase.setText("correct horse")
                prompt.unlock_button.click()
                wait(app, lambda p=prompt: "does not unlock" in p.message.text(), what="the refusal")
                pump(app, 0.3)
                prompt.grab().save(str(OUT / f"keys-passphrase-prompt-{mode}.png"))
                chips.setdefault("locked", {})[mode] = restarted.footer.grab()
                prompt.passphrase.setText(PASSPHRASE)
                prompt.unlock_button.click()
                wait(app, lambda w=restarted: w.footer.chip.text().startswith("✓ Synced"), what="synced")
                if mode == "light":
                    restarted.close()
                    pump(app, 0.3)
                    restarted.ctx.sync.stop()
                    restarted.ctx.close_data()

            # 4. The project rotates its anon key: the chip says so (not "your session ended").
            rotated = access_token(standin.jwt_secret, {"iss": "supabase-demo", "role": "anon",
                                                        "exp": 1983812996, "ref": "rotated"})
            standin.gateway.keys = {rotated, standin.service_role_key}
            config.set_value(data_dir, "supabase.anon_key", standin.anon_key)  # (what the device still has)
            restarted.ctx.sync.request_sync()
            wait(app, lambda: restarted.footer.chip.text().startswith("⚠ Project key changed"), what="key refused")
            for mode in ("light", "dark"):
                theme.apply_theme(app, mode)
                pump(app, 0.2)
                chips.setdefault("key refused", {})[mode] = restarted.footer.grab()

            from desktop.theme import DARK, LIGHT

            for mode, colors in (("light", LIGHT), ("dark", DARK)):
                stack_images([chips[name][mode] for name in ("locked", "key refused")],
                             OUT / f"keys-chip-states-{mode}.png", colors.sidebar)
            still_open = [w for w in made if w.ctx.db is not None and w.isVisible()]
            for window in still_open:
                window.close()
            pump(app, 0.3)
            for window in still_open:
                window.ctx.sync.stop()
                window.ctx.close_data()
    finally:
        standin.stop()
        cluster.stop()
    for path in sorted(OUT.glob("keys-*.png")):
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
