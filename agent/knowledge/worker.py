"""Indexing in a process of its own: `run(job, ctx)` in the app, `main()` in the child.

Why a process: the window's Python shares one GIL among its threads, so an indexing thread that the OS
preempts while holding it freezes the UI thread until it runs again (stalls of ~100 ms on a loaded
machine); a child has its own GIL, and its own cores. It also keeps a crash in a PDF parser out of the
app. The child writes only the set's index file (never the person's database).

The protocol is JSON lines: the app writes the job on the child's stdin, then "cancel" if asked; the
child writes {"progress": [done, total, text]} (at most ~10 a second), then {"report": {...}} or
{"error": "..."}. A cancelled child commits the files it finished and reports; the end of its stdin
(the app went away) cancels it too, so it never outlives the app by more than one file. A child that
does not stop within CANCEL_GRACE seconds of Cancel is killed (committed batches stay). A child that
dies without a report is a KnowledgeError saying how it ended.

The child is `python -m agent.knowledge.worker`, or in a PyInstaller bundle the app's own executable
with `knowledge index-worker` (mirari-cli.exe on Windows: the windowed mirari.exe has no stdout).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import traceback
from pathlib import Path

from agent.knowledge.build import IndexJob, IndexReport, build_index
from agent.knowledge.errors import KnowledgeError

CANCEL_GRACE = 10.0  # seconds a cancelled child has to finish its file and commit
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
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=_environment(), creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))


def run(job: IndexJob, ctx=None) -> IndexReport:
    """Index in a child process; progress goes to `ctx` (an agent.jobs.JobContext) and its Cancel to the
    child. Raises KnowledgeError (the child's own, or how it died) or JobCancelled (killed after Cancel)."""
    from agent.jobs import JobCancelled, JobContext

    ctx = ctx or JobContext()
    try:
        child = _spawn(command())
    except OSError as exc:
        raise KnowledgeError(f"the indexing process could not be started ({exc})") from None
    errors: collections.deque[str] = collections.deque(maxlen=STDERR_KEPT)
    ended = threading.Event()
    threads = [threading.Thread(target=_collect, args=(child.stderr, errors), daemon=True),
               threading.Thread(target=_relay_cancel, args=(child, ctx, ended), daemon=True)]
    outcome: dict = {}
    try:
        with contextlib.suppress(OSError):  # a child that died at once: its exit says why, below
            _send(child.stdin, job.to_dict())
        for thread in threads:
            thread.start()
        for raw in child.stdout:
            message = _parse(raw)
            if "progress" in message and ctx.on_progress is not None and not ctx.cancelled:
                done, total, text = message["progress"]
                ctx.on_progress(int(done), int(total), str(text))
            elif "report" in message or "error" in message:
                outcome = message
        child.wait()
    finally:
        ended.set()
        if child.poll() is None:  # the app's side failed or was interrupted (Ctrl+C): never leave the child behind
            _stop(child)
        for thread in threads:
            if thread.ident is not None:
                thread.join(timeout=5)
        for stream in (child.stdin, child.stdout, child.stderr):
            with contextlib.suppress(OSError):
                stream.close()
    if "report" in outcome:
        return IndexReport(**outcome["report"])
    if "error" in outcome:
        raise KnowledgeError(str(outcome["error"]))
    if ctx.cancelled:
        raise JobCancelled()
    last = next((line for line in reversed(errors) if line.strip()), "")
    raise KnowledgeError(f"the indexing process of {job.name} stopped unexpectedly ({_how(child.returncode)})"
                         f"{': ' + last[:200] if last else ''}; the files indexed before it stopped are kept: "
                         f"reindex to finish")


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


def _relay_cancel(child: subprocess.Popen, ctx, ended: threading.Event) -> None:
    """Cancel → "cancel" on the child's stdin; killed if it has not stopped CANCEL_GRACE seconds later."""
    while not ended.is_set():
        if ctx.cancel.wait(0.1):
            break
    else:
        return
    with contextlib.suppress(OSError, ValueError):
        _send(child.stdin, "cancel")
    try:
        child.wait(CANCEL_GRACE)
    except subprocess.TimeoutExpired:
        child.kill()


def _stop(child: subprocess.Popen) -> None:
    with contextlib.suppress(OSError, ValueError):
        _send(child.stdin, "cancel")
    try:
        child.wait(CANCEL_GRACE)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _send(stream, message) -> None:
    stream.write(json.dumps(message, ensure_ascii=True).encode("ascii") + b"\n")
    stream.flush()


# -- the child's side -------------------------------------------------------------------------------

def main() -> int:
    """Read the job from stdin, index, report on stdout; see the module docstring."""
    out = sys.stdout.buffer
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
