"""config.json has one reader and one locked writer (sync/settings.py): the window and the command line
each change their own section and never drop the other's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from sync.errors import ConfigError
from sync.settings import read_config, read_section, update_section

ROUNDS = 100

# Each process bumps a counter in its own section ROUNDS times: the file as a whole is read, changed and
# written each time, so without the lock one process's write carries the other's stale section back.
_BUMP = textwrap.dedent("""
    import sys
    from sync.settings import update_section
    data_dir, name, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    for _ in range(rounds):
        update_section(data_dir, name, lambda s: {**s, "count": s.get("count", 0) + 1})
""")


def test_two_processes_updating_different_sections_lose_nothing(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", "")}
    procs = [subprocess.Popen([sys.executable, "-c", _BUMP, str(tmp_path), name, str(ROUNDS)], env=env)
             for name in ("skills", "mirror")]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    data = json.loads((tmp_path / "config.json").read_text("utf-8"))
    assert data == {"skills": {"count": ROUNDS}, "mirror": {"count": ROUNDS}}


def test_the_window_and_the_command_line_keep_each_others_sections(tmp_path):
    """The threshold (Skill Forge), the budget (Mirror), the tool rounds (mirari tools rounds) and the
    project (sign-in / mirari config set): four writers of one file, each through update_section."""
    from agent.mirror.settings import load_budget, save_budget
    from agent.skills.settings import load_min_score, save_min_score
    from agent.tools.settings import load_max_rounds, save_max_rounds
    from sync import config

    config.set_value(tmp_path, "supabase.url", "https://abc.supabase.co")
    save_min_score(tmp_path, 0.75)
    save_budget(tmp_path, 20_000)
    save_max_rounds(tmp_path, "12")
    config.set_value(tmp_path, "supabase.anon_key", "anon")
    assert read_config(tmp_path) == {"supabase": {"url": "https://abc.supabase.co", "anon_key": "anon"},
                                     "skills": {"promote_min_score": 0.75}, "mirror": {"budget_tokens": 20_000},
                                     "tools": {"max_rounds": 12}}
    assert (load_min_score(tmp_path), load_budget(tmp_path), load_max_rounds(tmp_path)) == (0.75, 20_000, 12)
    if os.name == "posix":
        assert (tmp_path / "config.json").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "config.json.lock"]  # no temp file


@pytest.mark.parametrize("content", ["[1, 2]", "{not json", ""])
def test_a_damaged_file_is_a_clear_error_and_is_left_as_it_is(tmp_path, content):
    from agent.mirror.request import DEFAULT_BUDGET_TOKENS, ReviewError
    from agent.mirror.settings import load_budget, save_budget

    path = tmp_path / "config.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match="config.json"):
        update_section(tmp_path, "skills", lambda s: {**s, "x": 1})
    with pytest.raises(ReviewError, match="config.json"):
        save_budget(tmp_path, 20_000)
    assert load_budget(tmp_path) == DEFAULT_BUDGET_TOKENS  # reading falls back, as before
    assert path.read_text(encoding="utf-8") == content  # nothing overwritten


def test_a_section_that_is_not_an_object_reads_as_empty_and_is_replaced(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"skills": 3, "other": {"kept": True}}), encoding="utf-8")
    assert read_section(tmp_path, "skills") == {}
    update_section(tmp_path, "skills", lambda s: {**s, "promote_min_score": 0.5})
    assert read_config(tmp_path) == {"skills": {"promote_min_score": 0.5}, "other": {"kept": True}}
