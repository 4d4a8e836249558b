"""Devices for sync tests: a device is a data dir with its own database, config and keychain entry."""

from __future__ import annotations

import uuid
from pathlib import Path

from local_schema.models import SYNCED_TABLES, all_columns
from sync import config
from sync.engine import SyncEngine


class Device:
    def __init__(self, stack, data_dir: Path):
        data_dir.mkdir(parents=True, exist_ok=True)
        config.set_value(data_dir, "supabase.url", stack.url)
        config.set_value(data_dir, "supabase.anon_key", stack.anon_key)
        self.data_dir = data_dir
        self.engine = SyncEngine(data_dir)
        self.alerts: list[str] = []
        self.engine.on_alert = self.alerts.append

    @property
    def db(self):
        return self.engine.database()

    def session(self):
        return self.db.session()

    def sync(self, expect_state: str | None = "idle"):
        result = self.engine.run_cycle()
        if expect_state is not None:
            assert result.state == expect_state, result
        return result

    def rows(self, table: str) -> dict[str, dict]:
        cols = all_columns(table)
        with self.db.engine.connect() as conn:
            return {r[0]: dict(zip(cols, r, strict=True)) for r in conn.exec_driver_sql(
                f"SELECT {', '.join(cols)} FROM {table} ORDER BY id")}

    def snapshot(self) -> dict[str, dict[str, dict]]:
        return {t: self.rows(t) for t in SYNCED_TABLES}

    def scalar(self, sql: str, *params):
        with self.db.engine.connect() as conn:
            return conn.exec_driver_sql(sql, params).scalar()

    def execute(self, sql: str, *params):
        with self.db.engine.begin() as conn:
            conn.exec_driver_sql(sql, params)

    def close(self):
        self.engine.close()


def server_rows(stack, table: str, user_id: str) -> list[dict]:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(stack.db_url, row_factory=dict_row) as conn:
        owner = "author_id" if table == "templates" else "user_id"
        return conn.execute(f"SELECT * FROM public.{table} WHERE {owner} = %s ORDER BY id", (user_id,)).fetchall()


def seed_thread(api, n: int) -> str:
    """A thread of `n` assistant messages written on the server as the user (through `api`); its id."""
    conv = str(uuid.uuid4())
    with api.tx() as cur:
        cur.execute("insert into public.conversations (id, title) values (%s, 'bulk')", (conv,))
        cur.execute("insert into public.messages (conversation_id, role, content) "
                    "select %s, 'assistant', 'reply number ' || i from generate_series(1, %s) i", (conv, n))
    return conv
