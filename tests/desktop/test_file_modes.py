"""Every file MIRARI writes is readable only by its user (0600; folders it makes 0700), as the README
says: settings, database, backups, logs, config, key file, lock files and exports, whatever the umask."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX; Windows uses the profile ACL")


def _modes(root: Path, skip: set[Path] = frozenset()) -> dict[str, str]:
    """Every file and folder under `root` (not `root` itself) that is not 0600 / 0700."""
    wrong = {}
    for path in sorted(root.rglob("*")):
        if path in skip:
            continue
        mode = stat.S_IMODE(path.lstat().st_mode)
        want = 0o700 if path.is_dir() else 0o600
        if mode != want:
            wrong[str(path.relative_to(root))] = oct(mode)
    return wrong


@pytest.fixture
def usual_umask():
    """A user's usual umask (022: new files 0644), so only explicit modes make files private."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_every_file_the_window_writes_is_private(usual_umask, qtbot, tmp_path, memory_keyring, settle):
    from agent.dream.settings import DreamSettings, save_settings
    from agent.mirror.settings import save_budget
    from agent.templates.publish import export_template, publish
    from desktop.pages.console import actions
    from local_schema.models import Skill
    from standin.demo.seed import add_thread
    from sync.keyfile import EncryptedKeyFile
    from sync.secrets import SecretStore
    from tests.desktop.conftest import close_window, open_window

    data = tmp_path / "data"
    data.mkdir()
    exports = tmp_path / "exports"  # where the user chose to save: a folder of theirs, its mode theirs
    exports.mkdir()
    window = open_window(qtbot, data, SecretStore(data, backend=memory_keyring))
    db = window.ctx.db
    window.pages["settings"].ctx.settings.theme = "dark"  # desktop.ini
    cid = add_thread(db, "Plans", [("user", "hello"), ("assistant", "hi")])
    console = window.show_page("console")
    console.refresh_threads(select=cid)
    settle(50)
    actions.export_thread(console, "markdown", exports / "plans.md")
    actions.export_thread(console, "json", exports / "plans.json")
    with db.write() as session:
        skill = Skill(name="Bullets", template_prompt="Answer in bullets.")
        session.add(skill)
    template = publish(db, "Mine", skill_ids=[skill.id])
    export_template(db, template.id, exports / "mine.mirari-template.json")
    save_settings(data, DreamSettings())  # dream.json
    save_budget(data, 8000)  # config.json
    EncryptedKeyFile(data / "api-keys.enc").unlock("a long passphrase")
    settle(50)
    close_window(window)  # the window's geometry goes to desktop.ini too

    assert (data / "desktop.ini").exists() and (exports / "mine.mirari-template.json").exists()
    assert _modes(data) == {}
    assert _modes(exports) == {}


def test_settings_written_wider_by_an_older_version_are_tightened(usual_umask, tmp_path):
    from desktop.settings_store import AppSettings

    ini = tmp_path / "desktop.ini"
    ini.write_text("[appearance]\ntheme=dark\n")
    os.chmod(ini, 0o644)
    settings = AppSettings(tmp_path)
    assert settings.theme == "dark"
    assert stat.S_IMODE(ini.stat().st_mode) == 0o600


def test_the_mirari_command_makes_private_files_whatever_the_umask(usual_umask, tmp_path):
    """The real entry point, in a process of its own with umask 022: the window opens on a new data
    dir, changes a setting and quits; everything it left behind is 0600 / 0700."""
    data = tmp_path / "data"
    script = f"""
import sys
from PySide6.QtCore import QTimer
from desktop.app import ensure_app
app = ensure_app()
def quit_when_ready():
    for widget in app.topLevelWidgets():
        if getattr(widget, "pages", None):
            widget.ctx.settings.theme = "dark"
            widget.close()
            return
    QTimer.singleShot(50, quit_when_ready)
QTimer.singleShot(50, quit_when_ready)
from mirari.main import main
sys.exit(main(["--data-dir", {str(data)!r}]))
"""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}  # never the developer's keychain
    done = subprocess.run([sys.executable, "-c", script], env=env, timeout=120, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (data / "desktop.ini").exists() and (data / "local.sqlite3").exists()
    assert (data / "logs" / "mirari.log").exists()
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert _modes(data) == {}


def test_private_umask_covers_files_nobody_chose_a_mode_for_and_is_undone(usual_umask, tmp_path):
    from local_schema.paths import private_umask

    with private_umask():
        (tmp_path / "any.txt").write_text("x")  # open(), no mode given: what a library would do
        (tmp_path / "folder").mkdir()
    (tmp_path / "after.txt").write_text("x")
    assert stat.S_IMODE((tmp_path / "any.txt").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "folder").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "after.txt").stat().st_mode) == 0o644  # the caller's umask is back
