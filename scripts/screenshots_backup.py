#!/usr/bin/env python3
"""Screenshots of Settings → Backups (the list, a verified backup, a damaged one) and File → Export all…,
light and dark, from the real window under Xvfb on a demo database (nothing is drawn by hand):

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots_backup.py

Pictures land in docs/screenshots/ (backups-*.png).
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen")
OUT = ROOT / "docs" / "screenshots"
SIZE = (1280, 860)

from scripts.screenshots_sync import pump, wait  # noqa: E402


def main() -> int:
    import keyring

    from standin.keyrings import MemoryKeyring

    keyring.set_keyring(MemoryKeyring())
    from PySide6.QtWidgets import QScrollArea

    from agent.backup.service import create_backup
    from desktop import theme
    from desktop.app import build_window, ensure_app
    from local_schema.database import open_database
    from local_schema.models import MemoryNode, Task
    from standin.demo.seed import add_thread
    from sync.secrets import SecretStore

    OUT.mkdir(parents=True, exist_ok=True)
    app = ensure_app()
    with tempfile.TemporaryDirectory(prefix="mirari-backups-") as tmp:
        data_dir = Path(tmp)
        db = open_database(data_dir / "local.sqlite3")
        add_thread(db, "Planning the Alps trip", [("user", "Which pass first?"), ("assistant", "The Grimsel.")])
        with db.write() as session:
            session.add_all([Task(title="Pack the rope"), MemoryNode(label="Climbs in summer", strength=0.8)])
        db.close()
        now = datetime.now(UTC)
        for days, kind in ((40, "automatic"), (9, "automatic"), (2, "before migration"), (1, "manual"),
                           (0, "automatic")):
            create_backup(data_dir, kind=kind, now=now - timedelta(days=days, minutes=days * 7))
        window = build_window(data_dir, secrets=SecretStore(data_dir, backend=keyring.get_keyring()))
        window.resize(*SIZE)
        window.show()
        wait(app, lambda: bool(window.pages), what="the window")
        card = window.show_page("settings").backups
        wait(app, lambda: card.table.rowCount() == 5, what="the backups list")
        card.verify_selected()
        wait(app, lambda: "is sound" in card.result_label.text(), what="the verification")
        page = window.pages["settings"]
        scroll = page.findChild(QScrollArea)
        for mode in ("light", "dark"):
            theme.apply_theme(app, mode)
            scroll.verticalScrollBar().setValue(scroll.verticalScrollBar().maximum())
            pump(app, 0.4)
            window.grab().save(str(OUT / f"backups-{mode}.png"))
        theme.apply_theme(app, "light")
        damaged = card.entries[1].path
        data = bytearray(damaged.read_bytes())
        data[len(data) // 3] ^= 0x01
        damaged.write_bytes(bytes(data))
        card.table.selectRow(1)
        card.verify_selected()
        wait(app, lambda: "is not sound" in card.result_label.text(), what="the damaged verification")
        pump(app, 0.4)
        window.grab().save(str(OUT / "backups-damaged-light.png"))
        dialog = window.export_all()
        pump(app, 0.4)
        dialog.grab().save(str(OUT / "backups-export-all-light.png"))
        dialog.reject()
        window.close()
        window.ctx.close_data()
    print("saved backups-*.png to", OUT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
