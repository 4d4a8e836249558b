"""Tasks (docs/observatory.md): a small board of `pending`, `in_progress` and `done`, synced like every table.

A task is a note for the user and, optionally, about one connection. Nothing here — nor anywhere in
MIRARI — runs a task: moving it to "in progress" changes a column, nothing more.

Every write is one `LocalDatabase.write()` block (all or nothing); a delete is a real local delete,
which change capture turns into a tombstone on the server. Limits are the server's (tasks_title_length,
tasks_description_length, tasks_status_check), so a task saved here always syncs.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from local_schema.models import AgentConnection, Task

STATUSES = ("pending", "in_progress", "done")
STATUS_LABELS = {"pending": "Pending", "in_progress": "In progress", "done": "Done"}
TITLE_LIMIT = 500
DESCRIPTION_LIMIT = 20_000
_UNSET = object()


class TaskError(ValueError):
    """A task cannot be written as asked; str() is the user-facing reason."""


@dataclass(frozen=True)
class TaskInfo:
    id: str
    title: str
    description: str | None
    status: str
    connection_id: str | None
    connection_name: str | None
    created_at: str
    updated_at: str

    def to_dict(self) -> dict:
        return {"id": self.id, "title": self.title, "description": self.description, "status": self.status,
                "connection_id": self.connection_id, "connection_name": self.connection_name,
                "created_at": self.created_at, "updated_at": self.updated_at}


def _clean_title(title: str | None) -> str:
    title = " ".join((title or "").split())
    if not title:
        raise TaskError("A task needs a title.")
    if len(title) > TITLE_LIMIT:
        raise TaskError(f"The title is too long ({len(title)} characters; at most {TITLE_LIMIT}).")
    return title


def _clean_description(description: str | None) -> str | None:
    description = (description or "").strip()
    if len(description) > DESCRIPTION_LIMIT:
        raise TaskError(f"The description is too long ({len(description)} characters; at most {DESCRIPTION_LIMIT}).")
    return description or None


def _check_status(status: str) -> str:
    if status not in STATUSES:
        raise TaskError(f"Unknown status {status!r}: use one of {', '.join(STATUSES)}.")
    return status


def _check_connection(session: Session, connection_id: str | None) -> str | None:
    if connection_id is None:
        return None
    connection = session.get(AgentConnection, connection_id)
    if connection is None or connection.deleted_at is not None:
        raise TaskError(f"There is no connection {connection_id}.")
    return connection_id


def _live(session: Session, task_id: str) -> Task:
    task = session.get(Task, task_id)
    if task is None or task.deleted_at is not None:
        raise TaskError(f"There is no task {task_id}.")
    return task


def add_task(db, title: str, description: str | None = None, connection_id: str | None = None,
             status: str = "pending") -> Task:
    title, description, status = _clean_title(title), _clean_description(description), _check_status(status)
    with db.write() as session:
        task = Task(title=title, description=description, status=status,
                    connection_id=_check_connection(session, connection_id))
        session.add(task)
    return task


def edit_task(db, task_id: str, *, title=_UNSET, description=_UNSET, connection_id=_UNSET, status=_UNSET) -> Task:
    """Change only the fields given (connection_id=None unscopes the task)."""
    with db.write() as session:
        task = _live(session, task_id)
        if title is not _UNSET:
            task.title = _clean_title(title)
        if description is not _UNSET:
            task.description = _clean_description(description)
        if connection_id is not _UNSET:
            task.connection_id = _check_connection(session, connection_id)
        if status is not _UNSET:
            task.status = _check_status(status)
        session.add(task)
    return task


def move_task(db, task_id: str, status: str) -> Task:
    return edit_task(db, task_id, status=status)


def delete_task(db, task_id: str) -> None:
    with db.write() as session:
        session.delete(_live(session, task_id))


def list_tasks(db, connection_id: str | None = None, status: str | None = None) -> list[TaskInfo]:
    """Live tasks, oldest first within each status; `connection_id` keeps only the tasks scoped to it."""
    with db.session() as session:
        query = (select(Task, AgentConnection.name)
                 .join(AgentConnection, (AgentConnection.id == Task.connection_id)
                       & AgentConnection.deleted_at.is_(None), isouter=True)
                 .where(Task.deleted_at.is_(None)))
        if connection_id is not None:
            query = query.where(Task.connection_id == connection_id)
        if status is not None:
            query = query.where(Task.status == _check_status(status))
        rows = session.exec(query.order_by(Task.created_at, Task.id)).all()
    return [TaskInfo(t.id, t.title, t.description, t.status, t.connection_id, name, t.created_at, t.updated_at)
            for t, name in rows]


def next_status(status: str, step: int) -> str | None:
    """The column `step` places to the right (+1) or left (-1), or None past either end."""
    index = STATUSES.index(status) + step
    return STATUSES[index] if 0 <= index < len(STATUSES) else None
