#!/usr/bin/env python3
"""Screenshots of the Knowledge page, light and dark (docs/screenshots/knowledge-light/dark.png).

Runs the real app under Xvfb on a throwaway data dir with a folder of notes, code and a PDF; the folder is
added and indexed through the page (its long job), then searched:

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots_knowledge.py
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

NOTES = {
    "garden/tomatoes.md": "# Tomatoes\n\nPlant after the last frost, in full sun.\nWater deeply twice a week; "
                          "mulch to keep the soil moist.\nPinch the side shoots of cordon varieties.\n",
    "garden/basil.md": "# Basil\n\nLikes warmth and daily water in summer.\nHarvest the tips to keep it bushy.\n",
    "code/retry.py": "import time\n\n\ndef retry(call, attempts=5, base=0.5):\n    \"\"\"Call with exponential "
                     "backoff.\"\"\"\n    for n in range(attempts):\n        try:\n            return call()\n"
                     "        except OSError:\n            time.sleep(base * 2 ** n)\n    return call()\n",
    "code/README.md": "# Helpers\n\n`retry.py` retries a flaky call with exponential backoff and jitter.\n",
    "journal/2026-11.md": "# November\n\nThe sync soak ran all night; the backoff kept the server calm.\n"
                          "Next: water the greenhouse before the frost.\n",
}


def main() -> int:
    import keyring

    from scripts.screenshots import pump
    from standin.keyrings import MemoryKeyring

    keyring.set_keyring(MemoryKeyring())
    from desktop import theme
    from desktop.app import build_window, ensure_app
    from standin.demo.pdf import make_pdf
    from sync.secrets import SecretStore

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mirari-knowledge-") as tmp:
        data_dir, folder = Path(tmp) / "data", Path(tmp) / "Notes"
        data_dir.mkdir()
        for rel, text in NOTES.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text, encoding="utf-8")
        (folder / "papers").mkdir()
        (folder / "papers/watering.pdf").write_bytes(make_pdf("Drip irrigation saves water in dry summers"))
        (folder / "photo.txt").write_bytes(b"\x00\x01 not text")  # remembered as skipped
        app = ensure_app()
        window = build_window(data_dir, secrets=SecretStore(data_dir, backend=keyring.get_keyring()))
        window.resize(*SIZE)
        window.show()
        while not window.pages:
            pump(app, 0.05)
        page = window.show_page("knowledge")
        page.name_edit.setText("Notes")
        page.folder_edit.setText(str(folder))
        page.add_button.click()
        pump(app, 0.5)
        window.ctx.jobs.wait_idle(30_000)
        pump(app, 0.5)
        page.search_edit.setText("water before frost")
        page.search()
        pump(app, 0.5)
        for mode in ("light", "dark"):
            theme.apply_theme(app, mode)
            pump(app, 0.6)
            window.grab().save(str(OUT / f"knowledge-{mode}.png"))
        window.close()
        pump(app, 0.2)
        window.ctx.close_data()
    for path in sorted(OUT.glob("knowledge-*.png")):
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
