#!/usr/bin/env python3
"""Screenshots for the keyboard and untrusted-text work: the Console at 700 px (System prompt and
Export folded into "⋯"), the keyboard focus on a button and in the search results, and a message full
of hostile markup shown as text.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots_keyboard.py

Runs the real window on a throwaway data dir with the demo's threads (no model is called). The 700 px
shot lowers the window's minimum first, as a tiling window manager does by ignoring it.
"""

from __future__ import annotations

import base64
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen")
OUT = ROOT / "docs" / "screenshots"
SIZE = (1180, 760)


def _dot_png() -> str:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QColor, QImage, QPainter

    image = QImage(120, 40, QImage.Format.Format_ARGB32)
    image.fill(QColor("#ecebfb"))
    painter = QPainter(image)
    painter.setBrush(QColor("#5147d9"))
    painter.drawEllipse(40, 4, 32, 32)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(bytes(data)).decode()


def hostile_reply() -> str:
    return ("Here is the chart you asked for: ![quarterly chart](/dev/zero)\n\n"
            "And the logo: ![logo](https://tracker.example/pixel.png?user=ana) — a remote image is a link, "
            "never fetched.\n\n"
            '<img src="file:///etc/passwd"> <b>raw HTML</b> is shown as the text it is.\n\n'
            f"A small inline image is fine: ![a dot]({_dot_png()})")


def main() -> int:
    import keyring

    from scripts.screenshots import pump
    from standin.keyrings import MemoryKeyring

    keyring.set_keyring(MemoryKeyring())
    from PySide6.QtCore import Qt

    from desktop import theme
    from desktop.app import build_window, ensure_app
    from standin.demo.seed import add_thread, build_demo
    from sync.secrets import SecretStore

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mirari-keys-") as tmp:
        data_dir = Path(tmp)
        app = ensure_app()
        window = build_window(data_dir, secrets=SecretStore(data_dir, backend=keyring.get_keyring()))
        window.resize(*SIZE)
        window.show()
        while not window.pages:
            pump(app, 0.05)
        db = window.ctx.db
        ids = build_demo(db, "http://127.0.0.1:9/v1")
        hostile = add_thread(db, '<img src="/dev/zero"> Quarterly report', [
            ("user", 'Can you show me the chart? <img src="/dev/zero">'),
            ("assistant", hostile_reply()),
        ], ids["hermes"])
        console = window.pages["console"]
        console.refresh_connections()
        console.refresh_threads(select=hostile)
        pump(app, 0.6)
        window.activateWindow()
        for mode in ("light", "dark"):
            theme.apply_theme(app, mode)
            window.show_page("console")
            console.open_thread(hostile)
            console.view.delegate.clear_cache()
            pump(app, 0.6)
            window.grab().save(str(OUT / f"hostile-message-{mode}.png"))

        theme.apply_theme(app, "light")
        console.open_thread(ids["Retry helper in Python"])
        console.refresh_threads(select=ids["Retry helper in Python"])
        pump(app, 0.5)
        console.prompt_button.setFocus(Qt.FocusReason.TabFocusReason)
        pump(app, 0.3)
        window.grab().save(str(OUT / "focus-button-light.png"))

        theme.apply_theme(app, "dark")
        console.search_box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        console.search_box.setText("jitter")
        console.search_results.focus_results()
        pump(app, 0.8)
        window.grab().save(str(OUT / "focus-search-dark.png"))
        console.search_box.clear()

        theme.apply_theme(app, "light")
        window.setMinimumSize(600, 500)  # a tiling window manager ignores the minimum
        window.resize(700, SIZE[1])
        console.open_thread(ids["Retry helper in Python"])
        console.refresh_threads(select=ids["Retry helper in Python"])
        pump(app, 0.8)
        window.grab().save(str(OUT / "console-700-light.png"))
        window.close()
        pump(app, 0.2)
        db.close()
    for name in ("hostile-message-light", "hostile-message-dark", "focus-button-light", "focus-search-dark",
                 "console-700-light"):
        print(f"docs/screenshots/{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
