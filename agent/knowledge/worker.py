"""Indexing in processes of their own: `run(jobs, ctx)` in the app (one child per shard), `main()` in a child.

Why a process: the window's Python shares one GIL among its threads, so an indexing thread that the OS
preempts while holding it freezes the UI thread until it runs again (stalls of ~100 ms on a loaded
machine); a child has its own GIL, and its own cores. It also keeps a crash in a PDF parser out of the
app. A child writes only its shard's index file (never the person's database). It runs at a lower CPU
priority (NICENESS): on a busy machine a core the window wants is the window's, so its event loop is not
kept waiting behind the indexers (fewer stalls over 20 ms in the bench at load 7 on 2 cores, and no
slower indexing).

The protocol is JSON lines: the app writes the job on the child's stdin, then "cancel" if asked; the
child writes {"progress": [done, total, text]} (at most ~10 a second), then {"report": {...}} or
{"error": "..."}. A cancelled child commits the files it finished and reports; the end of its stdin
(the app went away) cancels it too, so it never outlives the app by more than one file. A child that
does not stop within CANCEL_GRACE seconds of Cancel is killed (committed batches stay). A child that
dies without a report is a KnowledgeError saying how it ended; a child's error cancels its siblings.

The child is `python -m agent.knowledge.worker`, or in a PyInstaller bundle the app's own executable
with `knowledge index-worker` (mirari-cli.exe on Windows: the windowed mirari.exe has no stdout).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

from agent.knowledge.build import IndexJob, IndexReport, build_index
from agent.knowledge.errors import KnowledgeError

CANCEL_GRACE = 10.0  # seconds a cancelled child has to finish its file and commit
NICENESS = 10  # the child's CPU priority below the app's (POSIX nice; Windows: below normal)
STDERR_KEPT = 20  # last lines of the child's stderr, for the error of a child that died


# -- the app's side ---------------------------------------------------------------------------------

def command() -> list[str]:
    """How to start the child: the bundle's executable, or this interpreter with the module."""
    if getattr(sys, "frozen", False):
        executable = Path(sys.executable)
        console = executable.with_name("mirari-cli.exe")
        return [str(console if os.name == "nt" and console.exists() else executable), "knowledge", "index-worker"]
    return [sys.executable, "-m", "agent.knowledge.worker"]


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    if not getattr(sys, "frozen", False):  # the child imports the same source tree as the app, wherever it runs from
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def _spawn(argv: list[str]) -> subprocess.Popen:
    flags = getattr(subprocess, "CREATE_NO_WINDOW", 0) | getattr(subprocess, "BELOW_NORMAL_PRIORITY_CLASS", 0)
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=_environment(), creationflags=flags)


class _Child:
    """One indexing process and what it said."""

    def __init__(self, job: IndexJob):
        self.job = job
        try:
            self.process = _spawn(command())
        except OSError as exc:
            raise KnowledgeError(f"the indexing process could not be started ({exc})") from None
        self.errors: collections.deque[str] = collections.deque(maxlen=STDERR_KEPT)
        self.progress = (0, 0)
        self.outcome: dict = {}
        with contextlib.suppress(OSError):  # a child that died at once: its exit says why
            _send(self.process.stdin, job.to_dict())

    def read(self, messages: queue.Queue) -> None:
        """Its messages onto `messages` (a thread per child: pipes cannot be waited on together
        everywhere), then None at the end of its output."""
        with contextlib.suppress(OSError, ValueError):
            for raw in self.process.stdout:
                messages.put((self, _parse(raw)))
        messages.put((self, None))

    def cancel(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            _send(self.process.stdin, "cancel")

    def died(self) -> KnowledgeError:
        last = next((line for line in reversed(self.errors) if line.strip()), "")
        return KnowledgeError(f"the indexing process of {self.job.name} stopped unexpectedly "
                              f"({_how(self.process.returncode)}){': ' + last[:200] if last else ''}; "
                              f"the files indexed before it stopped are kept: reindex to finish")

    def close(self) -> None:
        if self.process.poll() is None:  # the app's side failed or was interrupted: never leave it behind
            self.cancel()
            try:
                self.process.wait(CANCEL_GRACE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            with contextlib.suppress(OSError):
                stream.close()


def run(jobs: list[IndexJob], ctx=None) -> IndexReport:
    """Index in child processes, one per shard; progress (summed) goes to `ctx` (an agent.jobs.JobContext)
    and its Cancel to every child. Raises KnowledgeError (a child's own, or how one died) or JobCancelled
    (killed after Cancel)."""
    from agent.jobs import JobCancelled, JobContext

    ctx = ctx or JobContext()
    children: list[_Child] = []
    threads: list[threading.Thread] = []
    ended = threading.Event()
    messages: queue.Queue = queue.Queue()
    try:
        for job in jobs:
            children.append(_Child(job))
        for child in children:
            threads += [threading.Thread(target=child.read, args=(messages,), daemon=True),
                        threading.Thread(target=_collect, args=(child.process.stderr, child.errors), daemon=True)]
        threads.append(threading.Thread(target=_relay_cancel, args=(children, ctx, ended), daemon=True))
        for thread in threads:
            thread.start()
        running = len(children)
        while running:
            child, message = messages.get()
            if message is None:
                running -= 1
            elif "progress" in message:
                done, total, text = message["progress"]
                child.progress = (int(done), int(total))
                if ctx.on_progress is not None and not ctx.cancelled:
                    ctx.on_progress(sum(c.progress[0] for c in children), sum(c.progress[1] for c in children), str(text))
            elif "report" in message or "error" in message:
                child.outcome = message
                if "error" in message:  # no point in the other shards going on
                    for other in children:
                        other.cancel()
        for child in children:
            child.process.wait()
    finally:
        ended.set()
        for child in children:
            child.close()
        for thread in threads:
            if thread.ident is not None:
                thread.join(timeout=5)
    failed = (next((c for c in children if "error" in c.outcome), None)  # a child's own words first
              or next((c for c in children if "report" not in c.outcome), None))
    if failed is None:
        report = IndexReport(jobs[0].name)
        for child in children:
            report = report.add(IndexReport(**child.outcome["report"]))
        return report
    if "error" in failed.outcome:
        raise KnowledgeError(str(failed.outcome["error"]))
    if ctx.cancelled:
        raise JobCancelled()
    raise failed.died()


def _parse(raw: bytes) -> dict:
    try:
        message = json.loads(raw)
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}


def _how(code: int | None) -> str:
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit code {code}"


def _collect(stream, kept: collections.deque) -> None:
    with contextlib.suppress(OSError, ValueError):
        for raw in stream:
            kept.append(raw.decode("utf-8", "replace").rstrip())


def _relay_cancel(children: list[_Child], ctx, ended: threading.Event) -> None:
    """Cancel → "cancel" on every child's stdin; those still running CANCEL_GRACE seconds later are killed."""
    while not ended.is_set():
        if ctx.cancel.wait(0.1):
            break
    else:
        return
    for child in children:
        child.cancel()
    deadline = time.monotonic() + CANCEL_GRACE
    for child in children:
        try:
            child.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.process.kill()


def _send(stream, message) -> None:
    stream.write(json.dumps(message, ensure_ascii=True).encode("ascii") + b"\n")
    stream.flush()


# -- the child's side -------------------------------------------------------------------------------

def main() -> int:
    """Read the job from stdin, index, report on stdout; see the module docstring."""
    out = sys.stdout.buffer
    if hasattr(os, "nice"):  # background work: a core the window (or anything the person is using) wants is theirs
        with contextlib.suppress(OSError):
            os.nice(NICENESS)
    try:
        spec = json.loads(_read_line(sys.stdin.fileno()))
        job = IndexJob(**spec)
    except (ValueError, TypeError) as exc:
        _send(out, {"error": f"the indexing process got no job it understands ({exc})"})
        return 2
    cancel = threading.Event()
    threading.Thread(target=_watch_stdin, args=(cancel,), daemon=True).start()
    with contextlib.suppress(ValueError):  # Ctrl+C in a terminal reaches the child too: stop after this file
        signal.signal(signal.SIGINT, lambda *_: cancel.set())

    def progress(done: int, total: int, text: str) -> None:
        _send(out, {"progress": [done, total, text]})

    try:
        report = build_index(job, progress, cancel.is_set)
    except KnowledgeError as exc:
        _send(out, {"error": str(exc)})
        return 1
    except Exception as exc:  # noqa: BLE001 - the app shows it as one line; the traceback goes to stderr
        traceback.print_exc()
        _send(out, {"error": f"indexing {job.name} failed: {type(exc).__name__}: {exc}"})
        return 2
    _send(out, {"report": report.to_dict()})
    return 0


def _read_line(fd: int) -> bytes:
    """One line from a file descriptor, not a byte more (what follows is the watcher's)."""
    line = bytearray()
    while not line.endswith(b"\n"):
        byte = os.read(fd, 1)
        if not byte:
            break
        line += byte
    return bytes(line)


def _watch_stdin(cancel: threading.Event) -> None:
    """"cancel", or the end of stdin (the app closed it or went away), stops the work. Reads the file
    descriptor itself: a daemon thread blocked in sys.stdin's buffered reader aborts the interpreter's exit."""
    received = b""
    with contextlib.suppress(OSError):
        while b'"cancel"' not in received:
            chunk = os.read(sys.stdin.fileno(), 256)
            if not chunk:
                break
            received = received[-16:] + chunk
    cancel.set()


if __name__ == "__main__":
    sys.exit(main())
