#!/usr/bin/env python3
"""Screenshots of a skill that needs tools (issue 22, docs/skills.md "Tools a skill needs"): the Skill
Forge card after a test run that offered the skill's tool (the suite's own MCP server, the fake OpenAI
endpoint calling it), and the Tools… picker.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots_skill_tools.py

Pictures land in docs/screenshots/ (skills-tools-*.png, skills-tools-picker-light.png).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen")
OUT = ROOT / "docs" / "screenshots"
SIZE = (1280, 800)

from scripts.screenshots_sync import pump, wait  # noqa: E402

PROMPT = "Use the add tool for sums, then answer with the number only."
CASES = [{"prompt": "What is 2 + 40?", "expectations": [{"kind": "contains", "value": "42"}]},
         {"prompt": "What is 20 + 22?", "expectations": [{"kind": "contains", "value": "42"}]}]


def adder(request):
    if "fx__add" not in request.tool_names:
        return "I think it is 41."
    if not request.tool_messages:
        from standin.model import Reply

        return Reply(text="", tool_calls=[{"id": "call_1", "name": "fx__add", "arguments": json.dumps({"a": 2, "b": 40})}])
    return f"It is {request.tool_messages[-1]['content']}."


def main() -> int:
    import keyring

    from agent.skills.forge import SkillDraft, create_suggested
    from agent.skills.tools import set_skill_tools
    from agent.tools.config import add_stdio_server, record_tools
    from agent.tools.results import ToolInfo
    from desktop import theme
    from desktop.app import build_window, ensure_app
    from desktop.dialogs.skill_tools import SkillToolsDialog
    from local_schema.database import open_database
    from standin.demo.seed import add_connection
    from standin.keyrings import MemoryKeyring
    from standin.model import FakeLLM
    from sync.accounts import active_database_path
    from sync.secrets import SecretStore

    keyring.set_keyring(MemoryKeyring())
    OUT.mkdir(parents=True, exist_ok=True)
    app = ensure_app()
    fake = FakeLLM().start()
    fake.responder = adder
    try:
        with tempfile.TemporaryDirectory(prefix="mirari-skill-tools-") as tmp:
            data_dir = Path(tmp) / "data"
            db = open_database(active_database_path(data_dir))
            add_stdio_server(db, "fx", sys.executable, ["-m", "standin.mcp_fixture_server"], {"PYTHONPATH": str(ROOT)})
            schema = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}
            record_tools(db, "fx", [ToolInfo("add", "Add two integers.", schema), ToolInfo("echo", "Echo the text.")])
            add_connection(db, "Hermes (local)", fake.base_url, "hermes-3-8b")
            skill = create_suggested(db, SkillDraft("Exact sums", PROMPT, "Sums through a tool.", "math", CASES))
            set_skill_tools(db, skill.id, ["fx/add", "files/read_file"])
            db.close()

            window = build_window(data_dir, secrets=SecretStore(data_dir, backend=keyring.get_keyring()))
            window.resize(*SIZE)
            window.show()
            wait(app, lambda: bool(window.pages), what="the window")
            page = window.show_page("skills")
            page.selected_id = skill.id
            page.refresh()
            pump(app, 0.5)
            done = []
            page.job_done.connect(lambda kind, result: done.append(result))
            page.run_tests(skill.id, page.detail.connection_combo.currentData(), 1, "all")
            wait(app, lambda: done, timeout=60, what="the test run")
            pump(app, 0.5)
            for mode in ("light", "dark"):
                theme.apply_theme(app, mode)
                pump(app, 0.4)
                window.grab().save(str(OUT / f"skills-tools-{mode}.png"))
            theme.apply_theme(app, "light")
            box = page.detail.tools_box
            dialog = SkillToolsDialog(window, "Exact sums", box.states, ["fx/add", "fx/echo"])
            dialog.show()
            pump(app, 0.4)
            dialog.grab().save(str(OUT / "skills-tools-picker-light.png"))
            dialog.close()
            window.close()
            pump(app, 0.5)
            window.ctx.close_data()
    finally:
        fake.stop()
    print("saved to", OUT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
