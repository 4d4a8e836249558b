"""Bind's background work: load, save (row + key), test and delete connections."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from desktop.bus import bus
from desktop.models.connection_model import ConnectionInfo
from desktop.ops import Op
from desktop.safe_text import message_box


def load_connections(db) -> list[ConnectionInfo]:
    from agent.connections.rows import list_connections

    return [ConnectionInfo(c.id, c.name, c.provider, c.base_url, c.model, c.status, c.system_prompt,
                           row.checked_at, row.last_error, accepts_images=bool(c.accepts_images))
            for row in list_connections(db) for c in (row.connection,)]


def key_location(secrets) -> str:
    status = secrets.status()
    if status.mode == "keychain":
        return f"your OS keychain ({status.backend})"
    if status.mode == "encrypted_file":
        return "the encrypted key file" + (" (locked — unlock it in Settings)" if status.locked else "")
    if status.mode == "memory":
        return "memory only (forgotten when MIRARI exits)"
    return "nowhere yet: no OS keychain — choose a fallback in Settings (or when signing in)"


def save_connection(page, connection_id: str | None, values: dict, key: str | None, then=None) -> None:
    db, secrets = page.ctx.db, page.ctx.secrets

    def save() -> str:
        from local_schema.models import AgentConnection
        from local_schema.timestamps import utc_now

        with db.write() as s:
            row = s.get(AgentConnection, connection_id) if connection_id else None
            if row is None:
                row = AgentConnection(**values)  # the id exists before the insert
            else:
                for name, value in values.items():
                    setattr(row, name, value)
                row.updated_at = utc_now()
            if key:
                # The key first: if there is nowhere safe to keep it, nothing is written at all.
                secrets.set_key(row.id, key)
            s.add(row)
        return row.id

    Op(page, save, "Saving the connection").success(
        lambda cid: page._saved(cid, then)).failure(lambda exc: _save_failed(page, exc)).run()


def _save_failed(page, exc: BaseException) -> None:
    from sync.secrets import SecretsUnavailable

    page.test_button.setEnabled(True)
    page.status.clear()
    if isinstance(exc, SecretsUnavailable):
        key_not_stored(page, exc)
    else:
        bus.error.emit(f"Could not save the connection: {exc}")


def key_not_stored(page, exc: BaseException) -> QMessageBox:
    """A dialog, not a status line: the key the user just typed was not kept, and neither was the
    connection (one transaction). It offers the way out: unlock the key file, or choose where keys go."""
    status = page.ctx.secrets.status()
    box = message_box(QMessageBox.Icon.Warning, "The API key could not be stored", f"Nothing was saved: {exc}",
                      page)
    way_out = None
    if status.locked:
        way_out = box.addButton("Unlock…", QMessageBox.ButtonRole.AcceptRole)
    elif status.needs_choice:
        way_out = box.addButton("Open Settings", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Close)

    def finished() -> None:
        window = page.window()
        if way_out is None or box.clickedButton() is not way_out:
            return
        if status.locked and hasattr(window, "ask_passphrase"):
            window.ask_passphrase()
        else:
            page.ctx.navigate("settings")

    box.finished.connect(finished)
    page.key_error_box = box  # tests reach it here
    box.open()
    return box


def test_connection(page, connection_id: str) -> None:
    db, secrets = page.ctx.db, page.ctx.secrets

    def run():
        from agent.connections.check import check_and_record

        return check_and_record(db, connection_id, secrets.get_key(connection_id), timeout=8.0)

    Op(page, run, "Testing the connection").success(
        lambda result: page._tested(connection_id, result)).failure(
        lambda exc: _test_failed(page, exc)).run()


def _test_failed(page, exc: BaseException) -> None:
    page.test_button.setEnabled(True)
    page.status.show_check("error", str(exc), None)


def delete_connection(page, connection_id: str) -> None:
    db, secrets = page.ctx.db, page.ctx.secrets

    def delete() -> str | None:
        from local_schema.models import AgentConnection

        # References to it (threads, reports, tasks) are set to null by SQLite here and by the server's
        # tombstone cascade there: one request to the server, not one per referring row.
        with db.write() as s:
            row = s.get(AgentConnection, connection_id)
            if row is not None:
                s.delete(row)
        from sync.secrets import SecretsUnavailable

        try:
            secrets.delete_key(connection_id)
        except SecretsUnavailable as exc:  # e.g. the key file is locked: say so, keep the delete
            return f"Connection deleted; its key could not be removed yet: {exc}"
        return None

    def deleted(note: str | None) -> None:
        if note:
            bus.notice.emit(note)
        page._deleted(connection_id)

    Op(page, delete, "Deleting the connection").success(deleted).run()
