#!/usr/bin/env python3
"""Screenshots of today's Console on a tree: a thread whose first reply was regenerated (the transcript
shows the new one; the old one is its sibling, off the path) and whose last turn failed (kept as a reply
with its reason and Retry), light and dark.

Real turns against the local fake OpenAI-compatible endpoint, in the real window:

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots_tree.py

Pictures land in docs/screenshots/ (console-tree-*.png).
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

from scripts.screenshots import pump  # noqa: E402


def main() -> int:
    from agent.chat.threads import new_thread
    from agent.chat.turn import ChatTurn
    from desktop import theme
    from desktop.app import build_window, ensure_app
    from local_schema.models import AgentConnection
    from standin.keyrings import MemoryKeyring
    from standin.model import FakeLLM, Reply
    from sync.secrets import SecretStore

    OUT.mkdir(parents=True, exist_ok=True)
    app = ensure_app()
    with tempfile.TemporaryDirectory(prefix="mirari-tree-") as tmp, FakeLLM() as fake:
        window = build_window(Path(tmp), secrets=SecretStore(Path(tmp), backend=MemoryKeyring()))
        window.resize(*SIZE)
        window.show()
        while not window.pages:
            pump(app, 0.05)
        db = window.ctx.db
        with db.write() as s:
            connection = AgentConnection(name="Hermes · Local", provider="hermes", base_url=fake.base_url,
                                         model="hermes3")
            s.add(connection)
        thread = new_thread(db, connection.id).id
        fake.reply(text="Oolong — roasted, a little sweet.")
        ChatTurn(db, thread).send("Which tea goes with dark chocolate?")
        fake.reply(text="A **roasted oolong** or a smoky **lapsang souchong**: both stand up to the cocoa.\n\n"
                        "- Oolong: steep at 90 °C for 3 minutes\n- Lapsang: 95 °C, 2 minutes")
        ChatTurn(db, thread).regenerate()  # the first answer stays, as a sibling off the path shown
        fake.enqueue(Reply(status=503, error_json={"error": {"message": "the model is loading, try again"}}))
        ChatTurn(db, thread).send("And with milk chocolate?")
        console = window.pages["console"]
        window.show_page("console")
        console.refresh_connections()
        console.refresh_threads(select=thread)
        pump(app, 1.0)
        for mode in ("light", "dark"):
            theme.apply_theme(app, mode)
            console.view.delegate.clear_cache()
            console.view.viewport().update()
            pump(app, 0.6)
            console.view.scrollToBottom()
            pump(app, 0.3)
            window.grab().save(str(OUT / f"console-tree-{mode}.png"))
        window.close()
        pump(app, 0.3)
        db.close()
    print(f"saved {OUT / 'console-tree-light.png'} and -dark.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
