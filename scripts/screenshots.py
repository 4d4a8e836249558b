#!/usr/bin/env python3
"""Screenshots of Bind, Console, the Memory Atlas, the Skill Forge, Mirror Mode, the Observatory, Tasks
and Templates, light and dark, for the README.

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


# A believable review of the demo's "Retry helper in Python" thread: quotes from it (one that is not
# there, to show an unverified claim), numbers for the demo's memory and its one promoted skill.
DEMO_REVIEW = {
    "strengths": [
        {"claim": "Gives working code first, then one line on how to call it",
         "evidence": ["Here is a small helper that retries with exponential back-off",
                      "Call it as `retry(lambda: client.get(url))`"]},
        {"claim": "States the worst-case wait, so the user can judge the trade-off",
         "evidence": ["five attempts wait at most **6.2 s** in total"]},
    ],
    "weaknesses": [
        {"claim": "Retries every ConnectionError without asking which failures are safe to repeat",
         "evidence": ["except ConnectionError:"]},
        {"claim": "Jitter came only after the user asked for it", "evidence": ["Should I add jitter?"]},
        {"claim": "Presents full jitter as always the best choice",
         "evidence": ["Full jitter is always the best choice"]},
    ],
    "recommendations": [
        {"claim": "Ask which errors are safe to retry before writing retry code",
         "evidence": ["flaky `ConnectionError`s from an internal API"]},
        {"claim": "Add full jitter to retry helpers by default",
         "evidence": ["when many clients retry at once, jitter spreads them out"]},
        {"claim": "Offer a total time budget instead of a fixed number of attempts", "evidence": []},
    ],
    "suggested_prompt": "You are Hermes, a concise and friendly assistant.\n"
                        "Before writing code that retries or repeats work, ask which failures are safe to repeat.\n"
                        "Retry helpers use full jitter unless the user asks otherwise.",
    "memory_used": [1, 4],
    "skill_scores": [{"skill": 1, "score": 0.8}],
}


def run_demo_review(app, window, fake, ids) -> None:
    """Tick the retry thread on the Mirror page and press Run, as a user would; the fake answers."""
    import json

    from local_schema.models import Skill

    with window.ctx.db.write() as session:
        session.add(Skill(name="Code first", status="promoted", score=0.7,
                          template_prompt="Lead with the code; explain after, in at most three lines."))
    fake.responder = lambda request: (json.dumps(DEMO_REVIEW) if "# Review:" in str(request.messages)
                                      else None)
    page = window.show_page("mirror")
    page.load_sources()
    pump(app, 0.6)
    page.form.title.setText("Retry helper, first week")
    page.form.set_checked([ids["Retry helper in Python"], ids["Planning the week"]])
    pump(app, 0.8)
    page.run()
    while page.job is not None and page.job.active:
        pump(app, 0.1)
    pump(app, 0.5)
    page.new_review()
    page.form.title.setText("Support bot, October logs")
    page.form.source.setCurrentIndex(1)  # pasted logs, more than the budget takes: the oldest are left out
    page.form.pasted.setPlainText("\n\n".join(
        f"2026-10-{day:02d} 09:{minute:02d} user: My order #{4100 + day} has not arrived, can you check?\n"
        f"2026-10-{day:02d} 09:{minute + 1:02d} assistant: I am sorry to hear that. Order #{4100 + day} "
        f"left our warehouse on 10-{day - 1 if day > 1 else 1:02d}; tracking shows it is in transit. "
        "I have asked the carrier for an update and will write again within 24 hours."
        for day in range(1, 29) for minute in (5, 35)))
    page.form.budget.setValue(3000)  # not saved: only editing the box by hand saves the setting
    pump(app, 0.8)


def shoot_observatory(app, window, mode: str) -> None:
    """The home screen with the pointer over a busy day, so its values show."""
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QMouseEvent

    page = window.show_page("observatory")
    page.refresh()
    pump(app, 0.6)
    chart = page.chart
    busiest = max(range(len(chart.days)), key=lambda i: chart.days[i][1])
    point = QPointF(chart.column_rect(busiest).center())
    chart.mouseMoveEvent(QMouseEvent(QMouseEvent.Type.MouseMove, point, chart.mapToGlobal(point),
                                     Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier))
    pump(app, 0.3)
    window.grab().save(str(OUT / f"observatory-{mode}.png"))


def shoot_templates(app, window, mode: str, ids: dict) -> None:
    """Publish with its preview of exactly what is shared; and (light only) what was installed from where."""
    page = window.show_page("templates")
    page.refresh()
    tab = page.publish_tab
    page.tabs.setCurrentWidget(tab)
    tab.refresh()
    pump(app, 0.5)
    tab.name_edit.setText("Metric cook")
    tab.category_edit.setText("cooking")
    tab.description_edit.setPlainText("Recipes in grams and °C, short steps.")
    tab.check(ids["skill_ids"][:1], ids["node_ids"][:1])
    tab.public_box.setChecked(True)
    tab.update_preview()
    pump(app, 0.5)
    window.grab().save(str(OUT / f"templates-{mode}.png"))
    if mode == "light":
        page.tabs.setCurrentWidget(page.installed_tree)
        pump(app, 0.3)
        window.grab().save(str(OUT / "templates-installed-light.png"))
        page.tabs.setCurrentIndex(0)
        pump(app, 0.3)
        window.grab().save(str(OUT / "templates-yours-light.png"))
        shoot_import_with_skipped_items(app, window, page, ids)


def shoot_import_with_skipped_items(app, window, page, ids: dict) -> None:
    """Your own template exported, one fact added to the file, imported again: the new fact comes in,
    the rest is listed as skipped with the reason."""
    import json

    path = Path(tempfile.mkdtemp(prefix="mirari-shot-")) / "writer"
    page.export(ids["writer"], str(path))
    pump(app, 0.4)
    exported = path.with_name("writer.mirari-template.json")
    doc = json.loads(exported.read_text(encoding="utf-8"))
    doc["payload"]["seed_memory"].append({"label": "Reads recipes on a tablet in the kitchen", "category": "fact",
                                          "strength": 0.9})
    exported.write_text(json.dumps(doc), encoding="utf-8")
    page.import_file(str(exported))
    pump(app, 0.8)
    window.grab().save(str(OUT / "templates-import-skipped-light.png"))
    page.skipped_view.setVisible(False)
    page.notice.setText("")


def shoot_new_skill(app, window, mode: str) -> None:
    """The Skill Forge's New skill dialog, filled in as a user would, with one test case."""
    from desktop.dialogs.skill_new import NewSkillDialog

    window.show_page("skills")
    pump(app, 0.3)
    dialog = NewSkillDialog(window)
    dialog.name_edit.setText("Decision memo")
    dialog.category_edit.setText("writing")
    dialog.description_edit.setPlainText("When I ask for help deciding between options.")
    dialog.prompt_edit.setPlainText("When asked to choose between options, answer as a short memo:\n"
                                    "1. The recommendation in one sentence.\n2. Two reasons, most important first.\n"
                                    "3. What would change the recommendation.\nNo more than 120 words.")
    dialog.cases = [{"prompt": "Should I use SQLite or PostgreSQL for a desktop app?",
                     "expectations": [{"kind": "regex", "value": "^1\\. "}, {"kind": "max_chars", "value": 900}]}]
    dialog._show_cases(0)
    dialog.resize(620, dialog.sizeHint().height())
    dialog.show()
    pump(app, 0.5)
    dialog.grab().save(str(OUT / f"skills-new-{mode}.png"))
    dialog.close()


def main() -> int:
    import keyring

    from standin.keyrings import MemoryKeyring

    class DemoKeyring(MemoryKeyring):  # the demo never touches a real keychain
        name = "SecretService"

    keyring.set_keyring(DemoKeyring())
    from agent.connections.check import check_and_record
    from desktop import theme
    from desktop.app import build_window, ensure_app
    from standin.demo.seed import add_connection, add_demo_memory, build_demo
    from standin.demo.skills import build_demo_skills, responder
    from standin.model import FakeLLM
    from sync.secrets import SecretStore

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
        from standin.demo.observatory import add_history, add_tasks, add_templates

        add_history(db, ids["hermes"])
        add_tasks(db, ids)
        template_ids = add_templates(db)

        bind = window.pages["bind"]
        console = window.pages["console"]
        bind.refresh(select=ids["work"])
        console.refresh_connections()
        console.refresh_threads(select=ids["Retry helper in Python"])
        pump(app, 0.5)

        wanted = set(sys.argv[1:]) or {"bind", "console", "memory", "skills", "skills-new", "mirror",
                                          "observatory", "tasks", "templates"}
        mirror = window.show_page("mirror")
        if "mirror" in wanted:
            run_demo_review(app, window, fake, ids)
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
            if "skills-new" in wanted:
                shoot_new_skill(app, window, mode)
            if "skills" in wanted:
                forge = window.show_page("skills")
                forge.select(skill_ids["Cite sources"])
                forge.refresh()
                pump(app, 0.6)
                window.grab().save(str(OUT / f"skills-{mode}.png"))
            if "mirror" in wanted:
                window.show_page("mirror")
                mirror.new_review()
                pump(app, 0.6)
                window.grab().save(str(OUT / f"mirror-new-{mode}.png"))
                mirror._selected = mirror.model.rows()[0].id
                mirror.refresh()
                pump(app, 0.8)
                window.grab().save(str(OUT / f"mirror-{mode}.png"))
            if "observatory" in wanted:
                shoot_observatory(app, window, mode)
            if "tasks" in wanted:
                tasks = window.show_page("tasks")
                tasks.refresh()
                pump(app, 0.5)
                tasks.lists["in_progress"].setCurrentRow(0)
                tasks.lists["in_progress"].setFocus()
                pump(app, 0.2)
                window.grab().save(str(OUT / f"tasks-{mode}.png"))
            if "templates" in wanted:
                shoot_templates(app, window, mode, template_ids)
        window.close()
        pump(app, 0.2)
        db.close()
    for path in sorted(OUT.glob("*.png")):
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
