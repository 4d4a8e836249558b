"""Tools — this device's MCP servers: add one (a command or a URL), start it and see its status and tools,
choose which tools the agent may use (and which run without asking), test a tool with arguments.

Configurations are device-local (agent.tools.config). Servers run in the window's one ToolHost
(desktop.tools_runtime), stopped with the pages. Everything slow — starting a server, a call, every
database read and write — is an Op; the UI thread only shows. A server's words (names, descriptions,
errors, results) are shown as plain text. This module is the controller over ToolsView (view.py), which
holds the widgets.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidgetItem, QTableWidgetItem

from desktop.bus import bus
from desktop.dialogs.tools_add import AddServerDialog
from desktop.ops import Op
from desktop.pages.protocol import PageHooks
from desktop.pages.tools.tester import ToolTester
from desktop.pages.tools.view import ALWAYS, DESCRIPTION, ENABLED, NAME, ToolsView
from desktop.safe_text import Button, ask, tip
from desktop.tools_runtime import close_tool_host, tool_host

WATCHED = frozenset({"mcp_servers", "mcp_tools"})
STATE_TEXT = {"ready": "● running", "starting": "◌ starting…", "failed": "⚠ failed", "stopped": "○ not started"}


class ToolsPage(ToolsView, PageHooks):
    loaded = Signal()  # the list shows the latest configurations
    server_started = Signal(str)  # name, after a start finished (ready or failed)

    def __init__(self, ctx):
        super().__init__(ToolTester(self._run_call))
        self.ctx = ctx
        self.servers: list = []  # ServerConfig, by name
        self._starting: set[str] = set()
        self._problems: dict[str, str] = {}  # why a start failed before the server was reached (key store, …)
        self._filling = False
        self.host = tool_host(ctx)  # made here, on the UI thread: the tester's worker only uses it
        self._wire()
        self.refresh()

    def _wire(self) -> None:
        self.add_button.clicked.connect(self.open_add)
        self.list.currentRowChanged.connect(lambda _row: self._show_selected())
        self.enabled.toggled.connect(self._server_toggled)
        self.start_button.clicked.connect(self.start_selected)
        self.remove_button.clicked.connect(lambda: self.remove_selected(confirm=True))
        self.tools.itemChanged.connect(self._tool_toggled)
        bus.changed.connect(self._on_changed)
        self._listening = True

    # --- loading -------------------------------------------------------------------------------
    def refresh(self) -> None:
        db = self.ctx.db

        def load():
            from agent.tools.config import list_servers

            return list_servers(db)

        Op(self, load, "Loading the tools servers").success(self._show).run()

    def _show(self, servers) -> None:
        keep = self.selected_name()
        self.servers = servers
        self.list.blockSignals(True)
        self.list.clear()
        for server in servers:
            item = QListWidgetItem(self._line(server))
            item.setData(Qt.ItemDataRole.UserRole, server.name)
            item.setToolTip(tip(server.where()))
            self.list.addItem(item)
        names = [s.name for s in servers]
        self.list.setCurrentRow(names.index(keep) if keep in names else (0 if names else -1))
        self.list.blockSignals(False)
        self.empty.setVisible(not servers)
        self.list.setVisible(bool(servers))
        self._show_selected()
        self.loaded.emit()

    def _status(self, name: str):
        from agent.tools.host import STARTING, ServerStatus

        return ServerStatus(name, STARTING) if name in self._starting else self.host.status(name)

    def _line(self, server) -> str:
        status = self._status(server.name)
        off = "" if server.enabled else " · disabled"
        return f"{server.name}   {STATE_TEXT.get(status.state, status.state)}{off}\n{len(server.tools)} tools · {server.transport}"

    def selected_name(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def selected(self):
        name = self.selected_name()
        return next((s for s in self.servers if s.name == name), None)

    def select(self, name: str) -> None:
        for row in range(self.list.count()):
            if self.list.item(row).data(Qt.ItemDataRole.UserRole) == name:
                self.list.setCurrentRow(row)

    def _show_selected(self) -> None:
        server = self.selected()
        self.details.setEnabled(server is not None)
        if server is None:
            self.title.setText("")
            self.where.setText("")
            self.state.setText("")
            self.tools.setRowCount(0)
            self.tester.set_tools(None, [])
            return
        self.title.setText(server.name)
        self.where.setText(f"{'Command' if server.transport == 'stdio' else 'URL'}: {server.where()}"
                           + (f" · headers: {', '.join(server.header_names)}" if server.header_names else ""))
        status = self._status(server.name)
        text = STATE_TEXT.get(status.state, status.state)
        if status.server_info:
            text += f" — {status.server_info}"
        problem = status.error or self._problems.get(server.name)
        if problem:
            text = (text if status.error else "⚠ not started") + f"\n{problem}"
        self.state.setText(text)
        self.state.setObjectName("Error" if problem else "")
        self.state.style().polish(self.state)
        self.start_button.setText("Restart" if status.state == "ready" else "Start")
        self.start_button.setEnabled(server.name not in self._starting)
        self.enabled.blockSignals(True)
        self.enabled.setChecked(server.enabled)
        self.enabled.blockSignals(False)
        self._fill_tools(server)
        self.tester.set_tools(server.name, server.tools)

    def _fill_tools(self, server) -> None:
        self._filling = True
        self.tools.setRowCount(len(server.tools))
        for row, tool in enumerate(server.tools):
            on = QTableWidgetItem()
            on.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            on.setCheckState(Qt.CheckState.Checked if tool.enabled else Qt.CheckState.Unchecked)
            on.setData(Qt.ItemDataRole.UserRole, tool.name)
            always = QTableWidgetItem()
            always.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            always.setCheckState(Qt.CheckState.Checked if tool.always_allow else Qt.CheckState.Unchecked)
            always.setData(Qt.ItemDataRole.UserRole, tool.name)
            always.setToolTip("Run this tool's calls without asking")
            name = QTableWidgetItem(tool.name)
            description = QTableWidgetItem(" ".join(tool.description.split()))
            description.setToolTip(tip(tool.description[:1000]))
            for column, item in ((ENABLED, on), (NAME, name), (ALWAYS, always), (DESCRIPTION, description)):
                self.tools.setItem(row, column, item)
        self._filling = False

    def _on_changed(self, tables, _initiator) -> None:
        if WATCHED & set(tables):
            self.refresh()

    def shutdown(self) -> None:
        """The pages are going (window closed, account switched): stop listening, stop every server."""
        if self._listening:
            self._listening = False
            bus.changed.disconnect(self._on_changed)
        close_tool_host(self.ctx)

    # --- actions ---------------------------------------------------------------------------------
    def open_add(self) -> None:
        self.dialog = AddServerDialog(self, self.ctx.db, self.ctx.secrets)
        self.dialog.added.connect(lambda server: self.start(server.name))
        self.dialog.open()

    def start_selected(self) -> None:
        server = self.selected()
        if server is not None:
            self.start(server.name)

    def start(self, name: str) -> None:
        """Start (or restart) a server and record the tools it lists."""
        db, secrets, host = self.ctx.db, self.ctx.secrets, self.host
        self._starting.add(name)
        self._refresh_line(name)

        def run():
            from agent.tools.config import get_server, record_tools, spec_of

            server = get_server(db, name)
            host.disconnect(name)
            status = host.connect(spec_of(server, secrets))
            return record_tools(db, name, status.tools)

        def finished(_result=None) -> None:
            self._starting.discard(name)
            self.refresh()
            self.server_started.emit(name)

        def failed(exc: BaseException) -> None:
            from agent.tools.host import ToolError

            if not isinstance(exc, ToolError):  # the host's status has no word on it: keep it here
                self._problems[name] = str(exc) or type(exc).__name__
            finished()

        self._problems.pop(name, None)
        Op(self, run, f"Starting {name}").success(finished).failure(failed).run()

    def _refresh_line(self, name: str) -> None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            server = next((s for s in self.servers if s.name == name), None)
            if item.data(Qt.ItemDataRole.UserRole) == name and server is not None:
                item.setText(self._line(server))
        if self.selected_name() == name:
            self._show_selected()

    def _server_toggled(self, on: bool) -> None:
        server = self.selected()
        if server is None:
            return
        db = self.ctx.db

        def run():
            from agent.tools.config import set_enabled

            return set_enabled(db, server.name, on)

        Op(self, run, "Saving").run()

    def _tool_toggled(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() not in (ENABLED, ALWAYS):
            return
        server, tool = self.selected(), item.data(Qt.ItemDataRole.UserRole)
        if server is None or tool is None:
            return
        on, db, column = item.checkState() == Qt.CheckState.Checked, self.ctx.db, item.column()

        def run():
            from agent.tools.config import set_always_allow, set_enabled

            if column == ENABLED:
                return set_enabled(db, f"{server.name}/{tool}", on)
            return set_always_allow(db, server.name, tool, on)

        Op(self, run, "Saving").run()

    def remove_selected(self, confirm: bool = True) -> None:
        server = self.selected()
        if server is None:
            return
        if confirm and ask(self, "Remove server", f"Remove {server.name}? It is stopped, and its tools are no "
                                                  "longer offered.") != Button.Yes:
            return
        db, secrets, host = self.ctx.db, self.ctx.secrets, self.host

        def run():
            from agent.tools.config import remove_server

            host.disconnect(server.name)
            return remove_server(db, server.name, secrets)

        Op(self, run, f"Removing {server.name}").run()

    def _run_call(self, name: str, tool: str, arguments: dict, cancel):
        """The tester's call (on a worker thread): start the server if needed, then run the tool."""
        from agent.tools.config import get_server, record_tools, spec_of
        from agent.tools.host import READY

        db, secrets, host = self.ctx.db, self.ctx.secrets, self.host
        if host.status(name).state != READY:
            status = host.connect(spec_of(get_server(db, name), secrets))
            record_tools(db, name, status.tools)
        return host.call(name, tool, arguments, cancel=cancel)
