#!/usr/bin/env python3
"""Screenshots of File → Import…: the import dialog while a ChatGPT export is read (progress, Cancel),
then its summary over the Console that lists the imported threads (light).

Runs the real window under Xvfb on a fresh data dir; the export is generated (bench/bench_import.py's
conversations) and imported by the real job, nothing is drawn by hand except placing the dialog's own
picture where the window manager shows it, over the window:

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots_import.py

Pictures land in docs/screenshots/ (import-progress-light.png, import-summary-light.png).
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen")
OUT = ROOT / "docs" / "screenshots"
SIZE = (1280, 800)

from scripts.screenshots_sync import pump, wait  # noqa: E402

TITLES = ["Trip to Lisbon", "Sourdough starter schedule", "Explain Raft like I'm five", "Regex for ISO dates",
          "Birthday poem for Grandma", "SQL window functions", "Fix my bike's gears", "Cover letter draft",
          "Rust lifetimes question", "Weekly meal plan", "Postgres VACUUM vs ANALYZE", "Learn Portuguese verbs"]


def write_export(path: Path, conversations: int) -> None:
    from bench_import import conversation

    rng = random.Random(3)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        items = []
        for index in range(conversations):
            item = conversation(rng, index, 30, 1200, start=time.time() - 3 * 86400 - conversations * 3600)
            item["title"] = TITLES[index % len(TITLES)] + ("" if index < len(TITLES) else f" ({index // len(TITLES) + 1})")
            items.append(item)
        archive.writestr("conversations.json", json.dumps(items))
        archive.writestr("user.json", json.dumps({"id": "user-demo"}))


def over(window_pixmap, dialog_pixmap):
    """The dialog's picture centred over the window's, as the window manager places it."""
    from PySide6.QtGui import QColor, QPainter, QPixmap

    canvas = QPixmap(window_pixmap)
    painter = QPainter(canvas)
    x = (canvas.width() - dialog_pixmap.width()) // 2
    y = (canvas.height() - dialog_pixmap.height()) // 3
    for spread in range(8, 0, -2):  # a soft shadow, then the dialog with a thin border
        painter.fillRect(x - spread + 3, y - spread + 5, dialog_pixmap.width() + 2 * spread,
                         dialog_pixmap.height() + 2 * spread, QColor(0, 0, 0, 10))
    painter.drawPixmap(x, y, dialog_pixmap)
    painter.setPen(QColor(0, 0, 0, 70))
    painter.drawRect(x - 1, y - 1, dialog_pixmap.width() + 1, dialog_pixmap.height() + 1)
    painter.end()
    return canvas


def main() -> int:
    import keyring

    from standin.keyrings import MemoryKeyring

    keyring.set_keyring(MemoryKeyring())
    from desktop import theme
    from desktop.app import build_window, ensure_app
    from desktop.dialogs.import_dialog import run_import
    from sync.secrets import SecretStore

    OUT.mkdir(parents=True, exist_ok=True)
    app = ensure_app()
    with tempfile.TemporaryDirectory(prefix="mirari-import-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        export = Path(tmp) / "chatgpt-export.zip"
        write_export(export, 400)
        window = build_window(data_dir, secrets=SecretStore(data_dir, backend=keyring.get_keyring()))
        theme.apply_theme(app, "light")
        window.resize(*SIZE)
        window.show()
        wait(app, lambda: bool(window.pages), what="the window")
        window.show_page("console")
        pump(app, 0.5)

        dialog = run_import(window, export, "chatgpt")
        wait(app, lambda: 150 <= dialog.bar.value() < 700, timeout=120, what="progress")
        dialog.adjustSize()
        over(window.grab(), dialog.grab()).save(str(OUT / "import-progress-light.png"))
        wait(app, lambda: dialog.close_button.isVisible(), timeout=300, what="the import")
        pump(app, 1.0)
        console = window.pages["console"]
        wait(app, lambda: len(console.threads.rows()) >= 400, what="the thread list")
        pump(app, 0.5)
        dialog.adjustSize()
        over(window.grab(), dialog.grab()).save(str(OUT / "import-summary-light.png"))
        dialog.accept()
        window.close()
        pump(app, 0.5)
        window.ctx.close_data()
    print("saved", OUT / "import-progress-light.png", OUT / "import-summary-light.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
