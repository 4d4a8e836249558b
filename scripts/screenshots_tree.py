#!/usr/bin/env python3
"""Screenshots of the Console on a tree: a thread whose first reply was regenerated (the transcript
shows the new one with ‹ 2/2 ›; the old one is its sibling, off the path) and whose last turn failed
(kept as a reply with its reason and Retry), light and dark; then the edit dialog, Compare with two
connections side by side, and the thread's settings panel.

Real turns against the local fake OpenAI-compatible endpoint, in the real window:

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots_tree.py

Pictures land in docs/screenshots/ (console-tree-*.png, console-edit-light.png, console-compare-light.png,
console-settings-light.png).
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
        theme.apply_theme(app, "light")
        console.view.delegate.clear_cache()
        _dialogs(app, window, console, fake)
        window.close()
        pump(app, 0.3)
        db.close()
    print(f"saved {OUT / 'console-tree-light.png'} and -dark.png")
    return 0


def _grab_dialog(app, dialog, name: str) -> None:
    dialog.resize(dialog.size())
    pump(app, 0.6)
    dialog.grab().save(str(OUT / name))


def _dialogs(app, window, console, fake) -> None:
    """The edit dialog, Compare (two connections, side by side) and the settings panel, in the real window."""
    from desktop.pages.console import tree_dialogs
    from local_schema.models import AgentConnection

    question = next(r for r in console.transcript.rows() if r.role == "user")
    dialog = tree_dialogs.open_edit(console, question.id)
    dialog.editor.setPlainText("Which tea goes best with 70 % dark chocolate?")
    _grab_dialog(app, dialog, "console-edit-light.png")
    dialog.close()

    with window.ctx.db.write() as s:
        s.add(AgentConnection(name="Claude", provider="custom", base_url=fake.base_url, model="claude-sonnet"))
    console.refresh_connections()
    pump(app, 0.5)
    fake.responder = lambda req: ("**Darjeeling** (second flush): its muscatel note meets the cocoa."
                                  if req.body["model"] == "hermes3" else
                                  "A **genmaicha**: toasted rice and green tea soften the bitterness.\n\n"
                                  "- 80 °C, 2 minutes\n- no milk")
    dialog = tree_dialogs.open_compare(console)
    dialog.resize(1100, 560)
    dialog.question.setPlainText("One more tea for a 70 % bar?")
    dialog.ask()
    for _ in range(100):
        pump(app, 0.1)
        if len(dialog.results) == 2 and not dialog.running:
            break
    pump(app, 0.8)
    _grab_dialog(app, dialog, "console-compare-light.png")
    dialog.close()
    fake.responder = None

    dialog = tree_dialogs.open_settings(console)
    pump(app, 0.5)
    dialog.temperature.setValue(0.4)
    dialog.max_tokens.setValue(512)
    dialog.stop.setPlainText("###\n\\nUser:")
    dialog.addition.setPlainText("Answer like a tea sommelier: short, concrete, with steeping times.")
    _grab_dialog(app, dialog, "console-settings-light.png")
    dialog.close()
    pump(app, 0.5)
    console.view.scrollToBottom()
    pump(app, 0.5)
    window.grab().save(str(OUT / "console-compare-thread-light.png"))


if __name__ == "__main__":
    sys.exit(main())
