"""The Tools page in the real window with the suite's own MCP server: add a server by its command line,
see it start and its tools, toggle them, test a tool (plain-text result, Cancel), a server that fails
says why, removing one stops it; the UI keeps painting while a tool runs. The Settings snippet."""

from __future__ import annotations

import json
import shlex
import sys
import time

from PySide6.QtCore import QElapsedTimer, Qt, QTimer
from PySide6.QtWidgets import QDialogButtonBox

from agent.tools.config import get_server, list_servers
from tests.tools.conftest import ROOT, process_alive

COMMAND = f"{shlex.quote(sys.executable)} -m standin.mcp_fixture_server"


def add_through_dialog(qtbot, page, name: str, command: str = COMMAND, env: str = f"PYTHONPATH={ROOT}"):
    page.open_add()
    dialog = page.dialog
    dialog.name.setText(name)
    dialog.command.setText(command)
    dialog.env.setPlainText(env)
    with qtbot.waitSignal(page.server_started, timeout=60_000):
        dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    qtbot.waitUntil(lambda: page.selected() is not None and page.selected().name == name, timeout=5000)


def tool_rows(page):
    table = page.tools
    return [(table.item(r, 1).text(), table.item(r, 0).checkState() == Qt.CheckState.Checked,
             table.item(r, 2).checkState() == Qt.CheckState.Checked) for r in range(table.rowCount())]


def run_tester(qtbot, page, tool: str, arguments: dict, timeout: int = 20_000):
    tester = page.tester
    tester.tool.setCurrentText(tool)
    tester.arguments.setPlainText(json.dumps(arguments))
    with qtbot.waitSignal(tester.ran, timeout=timeout) as ran:
        tester.run_button.click()
    return ran.args[0]


def test_add_start_toggle_and_test_a_tool(qtbot, window, settle):
    page = window.show_page("tools")
    assert page.empty.isVisible() and "+ Add server" in page.empty.text()
    add_through_dialog(qtbot, page, "fx")
    settle()
    assert page.state.text().startswith("● running — mirari-fixture 1.0")
    assert page.list.currentItem().text().startswith("fx   ● running")
    rows = tool_rows(page)
    assert ("add", True, False) in rows and ("read/file.v2", True, False) in rows
    assert page.tester.arguments.toPlainText() and json.loads(page.tester.arguments.toPlainText()) == {"a": 0, "b": 0}
    result = run_tester(qtbot, page, "add", {"a": 20, "b": 22})
    assert result.text == "42" and page.tester.result.toPlainText() == "42"
    assert page.tester.status.text().startswith("Done in")
    html = run_tester(qtbot, page, "echo", {"text": "<b>not bold</b> <img src=x>"})
    assert page.tester.result.toPlainText() == "<b>not bold</b> <img src=x>" == html.text  # plain text, as sent
    row = [r[0] for r in tool_rows(page)].index("add")
    page.tools.item(row, 0).setCheckState(Qt.CheckState.Unchecked)
    page.tools.item(row, 2).setCheckState(Qt.CheckState.Checked)
    settle()
    add = next(t for t in get_server(window.ctx.db, "fx").tools if t.name == "add")
    assert (add.enabled, add.always_allow) == (False, True)
    qtbot.waitUntil(lambda: ("add", False, True) in tool_rows(page), timeout=5000)


def test_cancel_a_slow_tool_and_the_window_keeps_painting(qtbot, window, settle):
    page = window.show_page("tools")
    add_through_dialog(qtbot, page, "fx")
    settle()
    gaps, clock = [], QElapsedTimer()
    clock.start()
    ticker = QTimer()
    ticker.setInterval(5)

    def tick():
        gaps.append(clock.restart())

    ticker.timeout.connect(tick)
    ticker.start()
    tester = page.tester
    tester.tool.setCurrentText("slow")
    tester.arguments.setPlainText('{"seconds": 30}')
    started = time.monotonic()
    with qtbot.waitSignal(tester.ran, timeout=10_000) as ran:
        tester.run_button.click()
        qtbot.waitUntil(lambda: tester.cancel_button.isEnabled(), timeout=2000)
        qtbot.wait(600)
        tester.cancel_button.click()
    ticker.stop()
    assert "was cancelled" in tester.status.text() and time.monotonic() - started < 8
    assert ran.args[0].kind == "cancelled"
    assert max(gaps[1:]) < 250, max(gaps)  # the UI thread never waited on the call (generous for a loaded CI box)
    assert tester.run_button.isEnabled() and not tester.cancel_button.isEnabled()


def test_a_server_that_fails_to_start_says_why_and_can_be_removed(qtbot, window, settle, monkeypatch):
    from desktop.safe_text import Button

    monkeypatch.setattr("desktop.pages.tools.page.ask", lambda *a, **k: Button.Yes)
    page = window.show_page("tools")
    add_through_dialog(qtbot, page, "broken", command=f"{COMMAND} crash-at-start")
    settle()
    assert page.state.text().startswith("⚠ failed\nbroken stopped before it was ready")
    assert "«fixture: cannot open its database, giving up»" in page.state.text()
    assert page.state.textFormat() == Qt.TextFormat.PlainText
    page.remove_selected(confirm=True)
    settle()
    qtbot.waitUntil(lambda: page.list.count() == 0, timeout=5000)
    assert list_servers(window.ctx.db) == []


def test_the_dialog_keeps_what_was_typed_when_it_is_refused(qtbot, window, settle):
    page = window.show_page("tools")
    page.open_add()
    dialog = page.dialog
    dialog.name.setText("bad name")
    dialog.command.setText("x")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    settle()
    assert dialog.isVisible() and "cannot name a server" in dialog.error.text()
    assert dialog.name.text() == "bad name" and list_servers(window.ctx.db) == []
    dialog.reject()


def test_closing_the_window_stops_the_servers(qtbot, tmp_path, memory_keyring, settle):
    from sync.secrets import SecretStore
    from tests.desktop.conftest import close_window, open_window

    window = open_window(qtbot, tmp_path, SecretStore(tmp_path, backend=memory_keyring))
    page = window.show_page("tools")
    pid_file = tmp_path / "pid"
    add_through_dialog(qtbot, page, "fx", env=f"PYTHONPATH={ROOT}\nMCP_FIXTURE_PID_FILE={pid_file}")
    settle()
    pid = int(pid_file.read_text())
    assert process_alive(pid)
    close_window(window)
    deadline = time.monotonic() + 10
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not process_alive(pid)


def test_settings_shows_the_snippet_for_other_apps(window):
    page = window.show_page("settings")
    snippet = json.loads(page.mcp_snippet.toPlainText())
    entry = snippet["mcpServers"]["mirari"]
    assert entry["args"][-4:] == ["--data-dir", str(window.ctx.data_dir.resolve()), "mcp", "serve"]
    page.copy_mcp_snippet()
    from PySide6.QtWidgets import QApplication

    assert json.loads(QApplication.clipboard().text()) == snippet


def test_a_reload_keeps_the_arguments_being_written(qtbot, window, settle):
    page = window.show_page("tools")
    add_through_dialog(qtbot, page, "fx")
    settle()
    run_tester(qtbot, page, "add", {"a": 20, "b": 22})
    settle()  # the run reloads the page (the server's tools were recorded)
    page.refresh()
    settle()
    assert json.loads(page.tester.arguments.toPlainText()) == {"a": 20, "b": 22}
    assert page.tester.result.toPlainText() == "42"
    page.tester.tool.setCurrentText("echo")
    assert json.loads(page.tester.arguments.toPlainText()) == {"text": ""}  # another tool: its skeleton


def test_a_locked_key_store_is_said_when_a_server_needs_its_header(qtbot, tmp_path, settle):
    from keyring.backends.fail import Keyring

    from agent.tools.config import add_http_server
    from sync.secrets import SecretStore
    from tests.desktop.conftest import close_window, open_window

    secrets = SecretStore(tmp_path, backend=Keyring())  # no OS keychain: the encrypted key file
    secrets.use_encrypted_file("a long passphrase")
    window = open_window(qtbot, tmp_path, secrets)
    try:
        add_http_server(window.ctx.db, "remote", "http://127.0.0.1:9/mcp", {"Authorization": "Bearer s"}, secrets)
        secrets.lock()
        page = window.show_page("tools")
        page.refresh()
        settle()
        with qtbot.waitSignal(page.server_started, timeout=10_000):
            page.start("remote")
        settle()
        assert page.state.text().startswith("⚠ not started\nThe encrypted key file is locked")
        assert page.state.objectName() == "Error"
    finally:
        close_window(window)
