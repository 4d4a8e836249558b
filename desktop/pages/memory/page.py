"""III. Memory Atlas — the controller over MemoryView (view.py): what the agent remembers about the user,
and exactly what it is shown.

Left: search, "+ Add", the nodes ranked by effective strength (glyph ✶ ◌ ·, label, strength, category,
source as a link, last referenced), editable in place (label, category, strength) and deletable.
Right: "What the agent sees" for a chosen connection and the selected fact's use by outside apps
(panel.py); Pause keeps a fact out of every prompt and every app. The rules live in
agent/memory/atlas.py; every read and write here is an Op, and the page reloads when the change bus says
memory (or anything its sources and the prompt depend on) changed — never by polling.
"""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QMessageBox

from desktop.bus import bus
from desktop.dialogs.memory_editor import MemoryEditor
from desktop.models.memory_model import LABEL, NODE_ROLE, SOURCE, MemoryTableModel
from desktop.ops import Op
from desktop.pages.memory.view import MemoryView
from desktop.pages.protocol import PageHooks
from desktop.safe_text import ask

# Tables whose change can alter what this page shows: the nodes, the names their sources link to,
# and the parts of the system message shown beside them.
WATCHED = frozenset({"memory_nodes", "agent_connections", "skills", "conversations", "mirror_reports", "templates",
                     "mcp_access"})


class MemoryPage(MemoryView, PageHooks):
    loaded = Signal()  # the table and the panel show the latest data
    source_opened = Signal(str, str)  # kind, id — after a source link was followed
    access_loaded = Signal(str)  # node id, once its access log is shown

    def __init__(self, ctx):
        super().__init__()
        self.ctx = ctx
        self.clock = lambda: datetime.now(UTC)  # tests fix it; decay is computed with it
        self._loading = False
        self._again = False
        self._stale = False  # a change arrived while hidden
        self.model = MemoryTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(-1)
        self.set_table_model(self.proxy)
        self._wire()
        self._update_buttons()
        self.refresh()

    def _wire(self) -> None:
        self.add_button.clicked.connect(self.open_add)
        self.model.edit_requested.connect(self.edit)
        self.search.textChanged.connect(self._filter)
        self.table.clicked.connect(self._on_clicked)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._selection_changed())
        self.pause_button.clicked.connect(self.toggle_pause)
        self.delete_button.clicked.connect(lambda: self.delete_selected(confirm=True))
        self.panel.connection_changed.connect(self._on_connection_changed)
        QShortcut(QKeySequence.StandardKey.Find, self, activated=self.search.setFocus)
        QShortcut(QKeySequence.StandardKey.New, self, activated=self.open_add)
        QShortcut(QKeySequence(Qt.Key.Key_Delete), self.table, activated=lambda: self.delete_selected(confirm=True))
        QShortcut(QKeySequence("Esc"), self.search, activated=self.search.clear)
        bus.changed.connect(self._on_changed)
        self._listening = True

    # --- loading -----------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Reload nodes, connections and the agent's view in one background read (coalesced: a burst of
        changes while a load runs costs one more load, not one per change)."""
        if self._loading:
            self._again = True
            return
        self._loading = True
        db, now = self.ctx.db, self.clock()
        wanted = self.panel.connection_id() or self.ctx.settings.active_connection

        def load():
            from agent.connections.rows import list_connections
            from agent.memory.atlas import AtlasError, list_nodes
            from agent.prompt import memory_block

            connections = [(r.connection.id, f"{r.connection.name} · {r.connection.model}")
                           for r in list_connections(db)]
            ids = [cid for cid, _ in connections]
            chosen = wanted if wanted in ids else (ids[0] if ids else None)
            try:
                block = memory_block(db, chosen, now)
            except AtlasError:  # deleted between the two reads: show the block without a connection
                chosen, block = None, memory_block(db, None, now)
            return list_nodes(db, now), connections, chosen, block, now

        Op(self, load, "Loading the Atlas").success(self._show).failure(self._load_failed).run()

    def _show(self, result) -> None:
        nodes, connections, chosen, block, now = result
        self._loading = False
        current = self.selected_id()
        self.model.set_rows(nodes, now)
        self.panel.set_connections(connections, chosen)
        self.panel.show_block(block)
        self._reselect(current)
        injected = sum(v.injected for v in nodes)
        self.summary.setText(f"{len(nodes)} node{'s' if len(nodes) != 1 else ''} · {injected} injected"
                             + (f" · {len(block.over_cap)} over the cap of 40" if block.over_cap else ""))
        self._update_empty()
        self._selection_changed()
        if self._again:
            self._again = False
            self.refresh()
        else:
            self.loaded.emit()

    def _load_failed(self, exc: BaseException) -> None:
        self._loading = False
        bus.error.emit(f"Could not load the Atlas: {exc}")
        if self._again:
            self._again = False
            self.refresh()

    def _on_changed(self, tables, _initiator) -> None:
        if not WATCHED & set(tables):
            return
        if self.isVisible():
            self.refresh()
        else:  # hidden: reload once when shown instead of after every change elsewhere
            self._stale = True

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if self._stale:
            self._stale = False
            self.refresh()

    def shutdown(self) -> None:
        """The window is closing (its database is about to close): stop listening to the app-wide bus."""
        if self._listening:
            self._listening = False
            bus.changed.disconnect(self._on_changed)

    def _on_connection_changed(self, connection_id) -> None:
        db, now = self.ctx.db, self.clock()

        def load():
            from agent.prompt import memory_block

            return memory_block(db, connection_id, now)

        Op(self, load, "Building the memory block").success(self.panel.show_block).run()

    # --- table -------------------------------------------------------------------------------------
    def _filter(self, text: str) -> None:
        self.proxy.setFilterFixedString(text.strip())
        self._update_empty()

    def _update_empty(self) -> None:
        if self.model.rowCount() == 0:
            text = ("Nothing remembered yet. “+ Add” a fact, or promote a message in the Console: "
                    "facts at strength 0.75 or more are sent with every chat turn.")
        elif self.proxy.rowCount() == 0:
            text = f"No node matches “{self.search.text().strip()}”."
        else:
            text = ""
        self.empty.setText(text)
        self.empty.setVisible(bool(text))
        self.table.setVisible(self.model.rowCount() > 0)

    def selected_id(self) -> str | None:
        index = self.table.currentIndex()
        return index.data(NODE_ROLE).id if index.isValid() else None

    def select(self, node_id: str) -> None:
        row = self.model.row_of(node_id)
        if row is not None:
            index = self.proxy.mapFromSource(self.model.index(row, LABEL))
            if index.isValid():
                self.table.setCurrentIndex(index)
                self.table.scrollTo(index)

    def _reselect(self, node_id: str | None) -> None:
        if node_id:
            self.select(node_id)

    def _update_buttons(self) -> None:
        node_id = self.selected_id()
        self.delete_button.setEnabled(node_id is not None)
        self.pause_button.setEnabled(node_id is not None)
        row = self.model.row_of(node_id)
        paused = row is not None and self.model.node_at(row).node.paused
        self.pause_button.setText("Resume" if paused else "Pause")

    def _selection_changed(self) -> None:
        self._update_buttons()
        self.load_access()

    def load_access(self) -> None:
        """The selected fact's access log, read in the background."""
        node_id = self.selected_id()
        if node_id is None:
            self.panel.show_access(None, [])
            return
        label = self.model.node_at(self.model.row_of(node_id)).node.label
        db = self.ctx.db

        def load():
            from agent.mcp_server.access import access_of_node

            return access_of_node(db, node_id)

        def show(entries) -> None:
            if self.selected_id() == node_id:  # still the one selected
                self.panel.show_access(label, entries)
                self.access_loaded.emit(node_id)

        Op(self, load, "Reading the access log").success(show).run()

    def toggle_pause(self) -> None:
        node_id = self.selected_id()
        if node_id is None:
            return
        paused = not self.model.node_at(self.model.row_of(node_id)).node.paused
        db = self.ctx.db

        def run():
            from agent.memory.atlas import set_paused

            return set_paused(db, node_id, paused)

        Op(self, run, "Pausing the memory node" if paused else "Resuming the memory node").success(
            lambda node: bus.notice.emit(
                f"{'Paused' if node.paused else 'Resumed'}: “{node.label[:60]}”")).failure(
            lambda exc: bus.error.emit(f"Not saved: {exc}")).run()

    def _on_clicked(self, index) -> None:
        if index.column() == SOURCE:
            self.open_source(index.data(NODE_ROLE))

    # --- actions -----------------------------------------------------------------------------------
    def open_add(self) -> None:
        self.editor = MemoryEditor(self, self.ctx.db, title="Add to the Atlas",
                                   note="One fact per node. Adding one that is already here reinforces it instead.")
        self.editor.saved.connect(lambda result: self.select_after_load(result.node.id))
        self.editor.open()

    def select_after_load(self, node_id: str) -> None:
        def once() -> None:
            self.loaded.disconnect(once)
            self.select(node_id)

        self.loaded.connect(once)

    def edit(self, node_id: str, field: str, value) -> None:
        db, now = self.ctx.db, self.clock()

        def run():
            from agent.memory.atlas import edit_node

            return edit_node(db, node_id, now=now, **{field: value})

        Op(self, run, "Editing the memory node").failure(
            lambda exc: bus.error.emit(f"Not saved: {exc}")).run()

    def delete_selected(self, confirm: bool = True) -> None:
        node_id = self.selected_id()
        if node_id is None:
            return
        label = self.model.node_at(self.model.row_of(node_id)).node.label
        if confirm:
            answer = ask(self, "Delete memory node",
                         f"Delete “{label[:120]}”? It is removed from every device at the next "
                         "sync and cannot be brought back (you can add it again).")
            if answer != QMessageBox.StandardButton.Yes:
                return
        db = self.ctx.db

        def run():
            from agent.memory.atlas import delete_node

            return delete_node(db, node_id)

        Op(self, run, "Deleting the memory node").success(
            lambda node: bus.notice.emit(f"Deleted from the Atlas: “{node.label[:60]}”")).run()

    def open_source(self, view) -> None:
        """Follow a source link: the Console at the message (or thread) it came from; a Mirror report or
        template on the page that shows it, if that page offers it (ctx.navigate; desktop/pages/protocol.py)."""
        from agent.memory.sources import parse_source

        source = parse_source(view.node.source)
        if not source.linkable or view.source_title.endswith("(deleted)"):
            return
        if source.kind == "conversation":
            shown = (self.ctx.navigate("console", message=source.message_id) if source.message_id else
                     self.ctx.navigate("console", thread=source.id))
        else:
            shown = self.ctx.navigate({"mirror": "mirror", "template": "templates"}[source.kind], record=source.id)
        if not shown:
            bus.notice.emit(f"{view.source_title}: that screen is not in this version yet")
            return
        self.source_opened.emit(source.kind, source.id)
