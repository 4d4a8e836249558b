#!/usr/bin/env python3
"""Screenshots of Bind, Console, the Memory Atlas and the Skill Forge, light and dark, for the README.

Runs the real app under Xvfb against a demo database and a local fake OpenAI-compatible endpoint:

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots.py

(QT_QPA_PLATFORM=xcb is used when a DISPLAY exists, offscreen otherwise.) Connection statuses are real
checks: the local endpoint answers, one endpoint refuses the key (401), the internet ones are offline here.
Pictures land in docs/screenshots/. Name pages to shoot only those: `… screenshots.py memory`.
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
    from desktop.ops import wait_idle

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        wait_idle(20)
        time.sleep(0.01)


def main() -> int:
    import keyring

    from tests.keyrings import MemoryKeyring

    class DemoKeyring(MemoryKeyring):  # the demo never touches a real keychain
        name = "SecretService"

    keyring.set_keyring(DemoKeyring())
    from agent.connection_test import check_and_record
    from agent.secrets import SecretStore
    from desktop import theme
    from desktop.app import build_window, ensure_app
    from desktop.demo import add_connection, add_demo_memory, build_demo
    from desktop.demo_skills import build_demo_skills, responder
    from tests.fake_openai import FakeLLM

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mirari-demo-") as tmp, FakeLLM() as fake, FakeLLM() as locked:
        locked.required_key = "sk-right"
        data_dir = Path(tmp)
        app = ensure_app()
        secrets = SecretStore(data_dir, backend=keyring.get_keyring())
        window = build_window(data_dir, secrets=secrets)
        window.resize(*SIZE)
        window.show()
        while not window.pages:
            pump(app, 0.05)
        db = window.ctx.db
        ids = build_demo(db, fake.base_url)
        ids["work"] = add_connection(db, "Work gateway", locked.base_url, "hermes-3-70b", provider="custom")
        secrets.set_key(ids["work"], "sk-wrong")
        add_demo_memory(db, ids)
        for key in ("hermes", "openrouter", "nous", "work"):
            check_and_record(db, ids[key], secrets.get_key(ids[key]), timeout=3.0)

        fake.responder = responder  # skill tests get answers that follow the skill under test
        skill_ids = build_demo_skills(db, ids["hermes"])
        fake.responder = None

        bind = window.pages["bind"]
        console = window.pages["console"]
        bind.refresh(select=ids["work"])
        console.refresh_connections()
        console.refresh_threads(select=ids["Retry helper in Python"])
        pump(app, 0.5)

        wanted = set(sys.argv[1:]) or {"bind", "console", "memory", "skills"}
        for mode in ("light", "dark"):
            theme.apply_theme(app, mode)
            if "bind" in wanted:
                window.show_page("bind")
                bind.refresh(select=ids["work"])
                pump(app, 0.6)
                window.grab().save(str(OUT / f"bind-{mode}.png"))
            if "console" in wanted:
                window.show_page("console")
                console.view.delegate.clear_cache()
                console.view.viewport().update()
                pump(app, 0.6)
                console.view.scrollToBottom()
                pump(app, 0.3)
                window.grab().save(str(OUT / f"console-{mode}.png"))
            if "memory" in wanted:
                atlas = window.show_page("memory")
                atlas.refresh()
                pump(app, 0.8)
                atlas.select(atlas.model.node_at(1).id)
                pump(app, 0.2)
                window.grab().save(str(OUT / f"memory-{mode}.png"))
            if "skills" in wanted:
                forge = window.show_page("skills")
                forge.select(skill_ids["Cite sources"])
                forge.refresh()
                pump(app, 0.6)
                window.grab().save(str(OUT / f"skills-{mode}.png"))
        window.close()
        pump(app, 0.2)
        db.close()
    for path in sorted(OUT.glob("*.png")):
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
