#!/usr/bin/env python3
"""Screenshots of attachments and knowledge in the Console (docs/screenshots/attach-*.png):

- attach-composer-light.png: files waiting as chips above the composer, the knowledge selector;
- attach-light.png / attach-dark.png: a message with an image thumbnail and a file chip, and a reply with
  citations of a knowledge folder.

Runs the real app under Xvfb on a throwaway data dir, against the fake OpenAI model (standin/model.py):

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots_attach.py
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen")
OUT = ROOT / "docs" / "screenshots"
SIZE = (1280, 800)


def seedling_png() -> bytes:
    """A small drawn picture (a pot and a seedling), so the thumbnail shows something recognisable."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 420), (206, 230, 245))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 330, 640, 420), fill=(120, 90, 60))
    draw.polygon([(250, 250), (390, 250), (370, 360), (270, 360)], fill=(190, 90, 50))
    draw.line((320, 250, 320, 140), fill=(40, 140, 60), width=8)
    draw.ellipse((250, 110, 322, 160), fill=(60, 170, 80))
    draw.ellipse((318, 90, 400, 145), fill=(60, 170, 80))
    draw.ellipse((520, 30, 600, 110), fill=(250, 210, 80))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def main() -> int:
    import keyring

    from scripts.screenshots import pump
    from standin.keyrings import MemoryKeyring

    keyring.set_keyring(MemoryKeyring())
    from agent.connections.rows import add_connection
    from agent.knowledge.index import add_set, reindex
    from desktop import theme
    from desktop.app import build_window, ensure_app
    from desktop.ops import wait_idle
    from standin.model import FakeLLM
    from sync.secrets import SecretStore

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mirari-attach-") as tmp, FakeLLM() as fake:
        data_dir, files, notes = Path(tmp) / "data", Path(tmp) / "files", Path(tmp) / "Garden notes"
        for folder in (data_dir, files, notes):
            folder.mkdir()
        (files / "seedling.png").write_bytes(seedling_png())
        (files / "bed-plan.csv").write_text("bed,crop,sown\n1,tomatoes,2026-04-02\n2,basil,2026-04-20\n")
        (notes / "tomatoes.md").write_text("# Tomatoes\n\nHarden seedlings off for a week before planting out.\n"
                                           "Plant after the last frost, in full sun.\n")
        (notes / "watering.md").write_text("# Watering\n\nWater deeply twice a week; mulch keeps the soil moist.\n")
        app = ensure_app()
        secrets = SecretStore(data_dir, backend=keyring.get_keyring())
        window = build_window(data_dir, secrets=secrets)
        window.resize(*SIZE)
        window.show()
        while not window.pages:
            pump(app, 0.05)
        db = window.ctx.db
        add_connection(db, secrets, name="Hermes Vision", base_url=fake.base_url, model="hermes-vision",
                       accepts_images=True)
        add_set(db, "Garden notes", notes)
        reindex(db, "Garden notes")
        console = window.show_page("console")
        console.refresh_connections()
        console.attach.refresh_knowledge()
        pump(app, 0.5)
        wait_idle(10_000)
        console.attach.add_paths([str(files / "seedling.png"), str(files / "bed-plan.csv")])
        pump(app, 0.5)
        wait_idle(10_000)
        console.composer.setPlainText("Is this seedling ready to plant out? My bed plan is attached.")
        theme.apply_theme(app, "light")
        pump(app, 0.6)
        window.grab().save(str(OUT / "attach-composer-light.png"))

        fake.reply(text="It looks sturdy, with two true leaves. Harden it off for a week first "
                        "[Garden notes/tomatoes.md:3], then plant it in bed 1 after the last frost "
                        "[Garden notes/tomatoes.md:4] and water deeply twice a week [watering.md:3].")
        combo = console.attach_bar.knowledge_combo
        combo.setCurrentIndex(combo.findData("Garden notes"))
        console.send()
        for _ in range(100):
            pump(app, 0.1)
            if not console.turns.busy:
                break
        pump(app, 0.8)
        wait_idle(10_000)
        pump(app, 0.8)
        for mode in ("light", "dark"):
            theme.apply_theme(app, mode)
            pump(app, 0.8)
            window.grab().save(str(OUT / f"attach-{mode}.png"))
        window.close()
        pump(app, 0.2)
        window.ctx.close_data()
    print(f"wrote {OUT}/attach-composer-light.png, attach-light.png, attach-dark.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
