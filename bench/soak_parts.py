"""The parts of the sync soak (bench/soak_sync.py): the stand-in as a child process that takes fault
commands, the random workload of one device, fault injection, and the row-for-row comparison."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "soak-password-123"
TABLES_HIT = ("conversations", "messages", "agent_connections", "tasks", "memory_nodes")


# -- the stand-in as a child that takes fault commands ------------------------------------------------------
def standin_child() -> int:
    from standin.server import start_cluster_stack

    cluster, standin = start_cluster_stack()
    try:
        standin.start_in_thread()
        print(json.dumps(standin.info.as_dict()), flush=True)
        faults = standin.faults
        for line in sys.stdin:
            cmd = json.loads(line)
            kind = cmd.pop("cmd")
            if kind == "drop":
                faults.drop_response_after_commit(**cmd)
            elif kind == "fail":
                faults.fail_next(**cmd)
            elif kind == "delay":
                faults.delay(**cmd)
            elif kind == "drop_sockets":  # every Realtime socket cut (the windows' live connections)
                async def drop():
                    return standin.realtime.drop_sockets()
                standin.call(drop())
            elif kind == "clear":
                faults.clear()
            elif kind == "hits":
                print(json.dumps({k: faults.hits(k) for k in ("drop", "fail", "delay")}), flush=True)
    finally:
        standin.stop()
        cluster.stop()
    return 0


class StandIn:
    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.soak_sync", "--standin"], cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"the stand-in did not start (exit code {self.proc.wait()})")
        self.info = json.loads(line)
        self.hits_total = {"drop": 0, "fail": 0, "delay": 0}

    def send(self, **cmd) -> None:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def hits(self) -> dict:
        self.send(cmd="hits")
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(60)


# -- the workload -----------------------------------------------------------------------------------------
class Workload:
    """Random writes on one device's database, from worker threads (never the UI thread)."""

    def __init__(self, name: str, window, llm_url: str, rng: random.Random):
        self.name, self.window, self.llm_url, self.rng = name, window, llm_url, rng
        self.counts: dict[str, int] = {}
        self.errors: list[str] = []
        self.connection_id: str | None = None

    @property
    def db(self):
        return self.window.ctx.db

    def _pick(self, sql: str):
        with self.db.engine.connect() as conn:
            rows = conn.exec_driver_sql(sql).fetchall()
        return self.rng.choice(rows)[0] if rows else None

    def step(self) -> None:
        actions = [("new_thread", 18), ("add_message", 25), ("edit_message", 14), ("rename_thread", 8),
                   ("delete_message", 7), ("delete_thread", 4), ("chat", 10), ("task", 8), ("memory", 6)]
        action = self.rng.choices([a for a, _ in actions], [w for _, w in actions])[0]
        try:
            if getattr(self, action)():
                self.counts[action] = self.counts.get(action, 0) + 1
        except Exception as exc:  # noqa: BLE001 - a write that loses a race (row deleted meanwhile) is fine
            self.errors.append(f"{action}: {type(exc).__name__}: {exc}")

    def new_thread(self) -> bool:
        from local_schema.models import Conversation, Message

        with self.db.write() as s:
            conversation = Conversation(title=f"{self.name} thread {uuid.uuid4().hex[:6]}",
                                        agent_connection_id=self.connection_id)
            s.add(conversation)
            s.flush()
            for i in range(self.rng.randint(1, 3)):
                s.add(Message(conversation_id=conversation.id, role="user" if i % 2 == 0 else "assistant",
                              content=f"{self.name} says {uuid.uuid4().hex}"))
        return True

    def add_message(self) -> bool:
        from local_schema.models import Message

        cid = self._pick("SELECT id FROM conversations WHERE deleted_at IS NULL")
        if cid is None:
            return False
        with self.db.write() as s:
            s.add(Message(conversation_id=cid, role=self.rng.choice(["user", "assistant"]),
                          content=f"{self.name} adds {uuid.uuid4().hex}"))
        return True

    def edit_message(self) -> bool:
        from local_schema.models import Message

        mid = self._pick("SELECT id FROM messages WHERE deleted_at IS NULL")
        with self.db.write() as s:
            message = s.get(Message, mid) if mid else None
            if message is None:
                return False
            message.content = f"{message.content[:40]} / edited by {self.name} {uuid.uuid4().hex[:8]}"
            s.add(message)
        return True

    def rename_thread(self) -> bool:
        from local_schema.models import Conversation

        cid = self._pick("SELECT id FROM conversations WHERE deleted_at IS NULL")
        with self.db.write() as s:
            conversation = s.get(Conversation, cid) if cid else None
            if conversation is None:
                return False
            conversation.title = f"renamed by {self.name} {uuid.uuid4().hex[:6]}"
            s.add(conversation)
        return True

    def delete_message(self) -> bool:
        from local_schema.models import Message

        mid = self._pick("SELECT id FROM messages")
        with self.db.write() as s:
            message = s.get(Message, mid) if mid else None
            if message is None:
                return False
            s.delete(message)
        return True

    def delete_thread(self) -> bool:
        from local_schema.models import Conversation

        if self.rng.random() < 0.5:  # threads die slower than they are born: keep a few around
            return False
        cid = self._pick("SELECT id FROM conversations")
        with self.db.write() as s:
            conversation = s.get(Conversation, cid) if cid else None
            if conversation is None:
                return False
            s.delete(conversation)
        return True

    def chat(self) -> bool:
        """A real chat turn (agent.chat.turn) against the fake endpoint: the user's message, a streamed reply."""
        from agent.chat.turn import ChatTurn

        cid = self._pick("SELECT id FROM conversations WHERE deleted_at IS NULL")
        if cid is None or self.connection_id is None:
            return False
        turn = ChatTurn(self.db, cid, api_key="", connection_id=self.connection_id, flush_interval=0.05)
        result = turn.send(f"{self.name} asks {uuid.uuid4().hex}")
        return result.status == "done"

    def task(self) -> bool:
        from local_schema.models import Task

        tid = self._pick("SELECT id FROM tasks")
        with self.db.write() as s:
            task = s.get(Task, tid) if tid and self.rng.random() < 0.5 else None
            if task is None:
                s.add(Task(title=f"{self.name} task {uuid.uuid4().hex[:6]}"))
            else:
                task.status = self.rng.choice(["pending", "in_progress", "done"])
                s.add(task)
        return True

    def memory(self) -> bool:
        from local_schema.models import MemoryNode

        with self.db.write() as s:
            s.add(MemoryNode(label=f"{self.name} fact {uuid.uuid4().hex}", category="fact",
                             strength=round(self.rng.uniform(0.1, 1.0), 3)))
        return True


# -- faults -----------------------------------------------------------------------------------------------
def inject_fault(standin: StandIn, rng: random.Random, log: list[str]) -> None:
    table = rng.choice(TABLES_HIT)
    path = f"/rest/v1/{table}"
    kind = rng.choice(["drop", "drop", "fail5xx", "fail5xx", "delay", "socket"])
    if kind == "socket":
        standin.send(cmd="drop_sockets")
        log.append("live connections cut")
    elif kind == "drop":
        method = rng.choice(["POST", "PATCH"])
        standin.send(cmd="drop", method=method, path_prefix=path, times=1)
        log.append(f"lost response after commit: {method} {path}")
    elif kind == "fail5xx":
        status = rng.choice([500, 502, 503])
        method = rng.choice(["GET", "POST", "PATCH"])
        standin.send(cmd="fail", method=method, path_prefix=path, status=status,
                     body={"code": "XX000", "message": "injected server error"}, times=1)
        log.append(f"HTTP {status}: {method} {path}")
    else:
        seconds = round(rng.uniform(0.5, 3.0), 2)
        method = rng.choice(["GET", "POST", "PATCH"])
        standin.send(cmd="delay", method=method, path_prefix=path, seconds=seconds, times=rng.randint(1, 3))
        log.append(f"delay {seconds}s: {method} {path}")


# -- comparison -------------------------------------------------------------------------------------------
def _same(server_value, local_value) -> bool:
    from datetime import datetime

    from local_schema.timestamps import parse_timestamp

    if server_value is None or local_value is None:
        return server_value is None and local_value is None
    if isinstance(server_value, datetime):
        return parse_timestamp(local_value) == server_value
    if isinstance(server_value, dict | list):
        return server_value == (json.loads(local_value) if isinstance(local_value, str) else local_value)
    if isinstance(server_value, bool):
        return bool(local_value) == server_value
    if isinstance(server_value, float) or isinstance(local_value, float):
        return abs(float(server_value) - float(local_value)) < 1e-9
    return str(server_value) == str(local_value)


def compare(db_url: str, user_id: str, windows: dict) -> tuple[list[str], dict]:
    """Differences between each device's database and the server's live rows; and rows per table."""
    import psycopg
    from psycopg.rows import dict_row

    from local_schema.models import SYNCED_TABLES, all_columns, owner_column

    problems, sizes = [], {}
    with psycopg.connect(db_url, row_factory=dict_row) as conn:
        for table in SYNCED_TABLES:
            cols = all_columns(table)
            server = {str(r["id"]): r for r in conn.execute(
                f"SELECT * FROM public.{table} WHERE {owner_column(table)} = %s AND deleted_at IS NULL",
                (user_id,))}
            sizes[table] = len(server)
            for name, window in windows.items():
                with window.ctx.db.engine.connect() as local:
                    rows = {r[0]: dict(zip(cols, r, strict=True)) for r in local.exec_driver_sql(
                        f"SELECT {', '.join(cols)} FROM {table}")}
                for missing in sorted(set(server) - set(rows))[:5]:
                    problems.append(f"{name}: {table} {missing} is on the server but not here")
                for extra in sorted(set(rows) - set(server))[:5]:
                    problems.append(f"{name}: {table} {extra} is here but not live on the server")
                for row_id in sorted(set(server) & set(rows)):
                    bad = [c for c in cols if not _same(server[row_id][c], rows[row_id][c])]
                    if bad:
                        problems.append(f"{name}: {table} {row_id} differs in {bad}")
    return problems, sizes
