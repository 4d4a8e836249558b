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

TRIGGER_SUFFIXES = ("insert", "update", "rekey", "delete")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _outbox_insert(table: str, row_id: str, kind: str, changed: str = "NULL") -> str:
    return (
        "INSERT INTO sync_outbox (op_uuid, table_name, row_id, kind, changed_columns, created_at) "
        f"VALUES ({UUID4_SQL}, '{table}', {row_id}, '{kind}', {changed}, {UTC_NOW_SQL});"
    )


def capture_trigger_statements(table: str, captured_columns: tuple[str, ...] | list[str]) -> list[str]:
    """CREATE TRIGGER statements recording inserts, updates (changed columns only) and deletes of `table`."""
    t = _quote(table)
    changed_cases = ",\n      ".join(
        f"CASE WHEN OLD.{_quote(c)} IS NOT NEW.{_quote(c)} THEN '{c}' END" for c in captured_columns
    )
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
    delete = (
        f"CREATE TRIGGER {table}_capture_delete AFTER DELETE ON {t} WHEN {NOT_SUPPRESSED_SQL}\n"
        f"BEGIN\n  {_outbox_insert(table, 'OLD.id', 'delete')}\nEND"
    )
    return [insert, update, rekey, delete]


def drop_capture_trigger_statements(table: str) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {table}_capture_{suffix}" for suffix in TRIGGER_SUFFIXES]
