#!/usr/bin/env python3
"""Screenshots of the Dream page, light and dark, for the README.

Runs the real app under Xvfb on a throwaway data dir, with a local fake OpenAI-compatible endpoint
playing the dreaming model; the three dreams run for real through the page's controller, and one
proposal is accepted so the report shows both states:

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots_dream.py [page] [revise]

`page`: the Dream page with the consolidate report (dream-light/dark.png); `revise`: the stress report
with its "Revise the prompt" proposal, the new prompt shown as a diff (dream-revise-light/dark.png).
Both when none is named.
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


def main() -> int:
    import keyring

    from scripts.screenshots import pump
    from standin.keyrings import MemoryKeyring

    keyring.set_keyring(MemoryKeyring())
    from agent.dream import decide
    from agent.dream.reports import list_reports
    from agent.dream.settings import DreamSettings, save_settings
    from desktop import theme
    from desktop.app import build_window, ensure_app
    from standin.demo.dream import (
        add_promoted_skill,
        add_turns,
        consolidating_model,
        plant_atlas,
        stressing_model,
    )
    from standin.demo.seed import add_connection
    from standin.model import FakeLLM
    from sync.secrets import SecretStore

    def model(req):
        prompt = req.messages[-1]["content"]
        if "Rubric" in prompt:
            return '{"winner": "B", "reason": "It answers the question that was asked, briefly."}'
        return consolidating_model(req) or stressing_model(req)

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mirari-dream-") as tmp, FakeLLM() as fake:
        fake.responder = model
        data_dir = Path(tmp)
        app = ensure_app()
        window = build_window(data_dir, secrets=SecretStore(data_dir, backend=keyring.get_keyring()))
        window.resize(*SIZE)
        window.show()
        while not window.pages:
            pump(app, 0.05)
        db = window.ctx.db
        cid = add_connection(db, "Hermes · Local", fake.base_url, "hermes3", provider="hermes",
                             system_prompt="Be brief.")
        plant_atlas(db)
        add_promoted_skill(db)
        add_turns(db, cid, [("What is the capital of Portugal?", "Porto, I think."),
                          ("Summarise WAL mode in one line", "SQLite writes changes to a log first.")])
        save_settings(data_dir, DreamSettings(connection_id=cid))
        page = window.pages["dream"]
        page._load_settings()
        pump(app, 0.3)
        for kind in ("stress", "replay", "consolidate"):
            page.controller.dream_now(kind, cid)
            window.ctx.jobs.wait_idle(30_000)
            pump(app, 0.3)
        newest = list_reports(db)[0]
        decide.accept(db, newest.id, next(i for i, p in enumerate(newest.proposals, 1) if p["kind"] == "merge"))
        page.refresh()
        pump(app, 0.5)
        wanted = set(sys.argv[1:]) or {"page", "revise"}
        stress = next(r.id for r in list_reports(db) if r.kind == "stress")
        for mode in ("light", "dark"):
            theme.apply_theme(app, mode)
            window.show_page("dream")
            if "page" in wanted:
                page._selected = None
                page.refresh()
                pump(app, 0.8)
                window.grab().save(str(OUT / f"dream-{mode}.png"))
            if "revise" in wanted:
                page._selected = stress
                page.refresh()
                pump(app, 0.8)
                edit = next(pid for pid, diff in page.report.prompt_diffs.items())
                card = page.report.proposal_cards[edit]
                scroll = page.report.parentWidget().parentWidget()  # the QScrollArea around the report
                scroll.ensureWidgetVisible(card, 0, 0)
                pump(app, 0.3)
                window.grab().save(str(OUT / f"dream-revise-{mode}.png"))
        window.close()
        pump(app, 0.2)
        db.close()
    for path in sorted(OUT.glob("dream-*.png")):
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
