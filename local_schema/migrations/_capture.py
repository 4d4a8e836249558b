"""SQL building blocks for change capture, shared by the migrations that (re)create capture triggers.

A migration passes its own frozen column list, so editing the models later never rewrites an old
migration: a version that adds a synced column drops and recreates that table's triggers itself.
"""

from __future__ import annotations

# A random uuid4 in canonical lowercase form (version nibble 4, variant 8-b).
UUID4_SQL = (
    "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2)"
    " || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2)"
    " || '-' || hex(randomblob(6)))"
)

# Now in the server's shape. SQLite's clock has millisecond resolution, so the last three digits are 0.
UTC_NOW_SQL = "strftime('%Y-%m-%dT%H:%M:%f000+00:00', 'now')"

# Capture runs unless the applying-remote flag is set inside the current write transaction.
NOT_SUPPRESSED_SQL = "NOT EXISTS (SELECT 1 FROM sync_meta WHERE key = 'capture_suppressed' AND value = '1')"

TRIGGER_SUFFIXES = ("insert", "update", "rekey", "delete", "cascaded")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _outbox_insert(table: str, row_id: str, kind: str, changed: str = "NULL") -> str:
    return (
        "INSERT INTO sync_outbox (op_uuid, table_name, row_id, kind, changed_columns, created_at) "
        f"VALUES ({UUID4_SQL}, '{table}', {row_id}, '{kind}', {changed}, {UTC_NOW_SQL});"
    )


def _parent_present(parent_table: str, value: str) -> str:
    return f"EXISTS (SELECT 1 FROM {_quote(parent_table)} WHERE id = {value})"


def capture_trigger_statements(table: str, captured_columns: tuple[str, ...] | list[str], *,
                               cascaded_from: tuple[str, str] | None = None,
                               nulled_by: dict[str, str] | None = None) -> list[str]:
    """CREATE TRIGGER statements recording inserts, updates (changed columns only) and deletes of `table`.

    The server cascades a tombstone itself (supabase/migrations: cascade_tombstone), so what a local
    foreign-key action does to the children of a deleted parent is not captured: one request deletes a
    thread, not one per message.
    - `cascaded_from=(fk column, parent table)`: a delete made by the parent's ON DELETE CASCADE (the
      parent row is already gone when the child's trigger runs) is not captured, and the child's queued
      ops are dropped (the parent's tombstone covers the child on the server; an insert never sent has
      nothing to cover).
    - `nulled_by={fk column: parent table}`: an ON DELETE SET NULL of that column (its old parent is
      gone) is not captured; the server's cascade sets the same null.
    """
    t = _quote(table)
    nulled_by = nulled_by or {}

    def changed(c: str) -> str:
        test = f"OLD.{_quote(c)} IS NOT NEW.{_quote(c)}"
        if c in nulled_by:
            gone = f"NOT {_parent_present(nulled_by[c], 'OLD.' + _quote(c))}"
            test += f" AND NOT (NEW.{_quote(c)} IS NULL AND {gone})"
        return f"CASE WHEN {test} THEN '{c}' END"

    changed_cases = ",\n      ".join(changed(c) for c in captured_columns)
    insert = (
        f"CREATE TRIGGER {table}_capture_insert AFTER INSERT ON {t} WHEN {NOT_SUPPRESSED_SQL}\n"
        f"BEGIN\n  {_outbox_insert(table, 'NEW.id', 'insert')}\nEND"
    )
    # One JSON array of the captured columns whose value really changed; nothing when it is empty.
    update = (
        f"CREATE TRIGGER {table}_capture_update AFTER UPDATE ON {t}\n"
        f"WHEN OLD.id IS NEW.id AND {NOT_SUPPRESSED_SQL}\n"
        "BEGIN\n"
        "  INSERT INTO sync_outbox (op_uuid, table_name, row_id, kind, changed_columns, created_at)\n"
        f"  SELECT {UUID4_SQL}, '{table}', NEW.id, 'update', changed, {UTC_NOW_SQL}\n"
        "  FROM (SELECT json_group_array(value) AS changed FROM json_each(json_array(\n"
        f"      {changed_cases}\n"
        "    )) WHERE type <> 'null')\n"
        "  WHERE changed <> '[]';\n"
        "END"
    )
    # Changing a primary key is a different row to the server: a delete of the old id, an insert of the new.
    rekey = (
        f"CREATE TRIGGER {table}_capture_rekey AFTER UPDATE OF id ON {t}\n"
        f"WHEN OLD.id IS NOT NEW.id AND {NOT_SUPPRESSED_SQL}\n"
        f"BEGIN\n  {_outbox_insert(table, 'OLD.id', 'delete')}\n  {_outbox_insert(table, 'NEW.id', 'insert')}\nEND"
    )
    when = NOT_SUPPRESSED_SQL
    statements = []
    if cascaded_from is not None:
        fk, parent = cascaded_from
        present = _parent_present(parent, f"OLD.{_quote(fk)}")
        when = f"{NOT_SUPPRESSED_SQL} AND {present}"
        statements.append(
            f"CREATE TRIGGER {table}_capture_cascaded AFTER DELETE ON {t} WHEN {NOT_SUPPRESSED_SQL} AND NOT {present}\n"
            f"BEGIN\n  DELETE FROM sync_outbox WHERE table_name = '{table}' AND row_id = OLD.id"
            " AND state = 'pending';\nEND"
        )
    delete = (
        f"CREATE TRIGGER {table}_capture_delete AFTER DELETE ON {t} WHEN {when}\n"
        f"BEGIN\n  {_outbox_insert(table, 'OLD.id', 'delete')}\nEND"
    )
    return [insert, update, rekey, delete, *statements]


def drop_capture_trigger_statements(table: str) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {table}_capture_{suffix}" for suffix in TRIGGER_SUFFIXES]
