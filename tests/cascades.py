"""What deleting a row of a table writes, read from the models (the tests compare listeners against it)."""

from local_schema import changes


def delete_reaches(table: str) -> frozenset[str]:
    """`table` and every table its rows' deletion writes through foreign keys, read from the models: ON
    DELETE CASCADE children (and theirs), ON DELETE SET NULL children. So the tests below stay exact
    when a later version adds a child table (attachments of messages, …)."""
    from sqlmodel import SQLModel

    import local_schema.models  # noqa: F401 - registers the tables

    reached, todo = {table}, [table]
    while todo:
        parent = todo.pop()
        for child in SQLModel.metadata.tables.values():
            for fk in child.foreign_keys:
                if fk.column.table.name != parent or child.name in reached:
                    continue
                if (fk.ondelete or "").upper() == "CASCADE":
                    reached.add(child.name)
                    todo.append(child.name)
                elif (fk.ondelete or "").upper() == "SET NULL":
                    reached.add(child.name)
    return frozenset(t for t in reached if not changes.is_internal(t))
