"""Logging that never writes a secret: a redacting formatter and a private, size-capped log file.

Keys are kept out of log calls on purpose, but an exception text can still carry one (a URL with a
key in it, a server echoing the Authorization header, a token in an error body). So every handler we
install formats through `RedactingFormatter`, which masks `sk-…` keys, bearer tokens, JWTs and
`api_key=`/`password=`-style values in the final text, tracebacks included (Cherry Studio PR #11934).

The file is `mirari.log` in the platformdirs log directory (or `<data dir>/logs` when the data dir
was chosen with --data-dir / MIRARI_DATA_DIR, so a separate profile stays separate), rotated at
1 MB with 5 old files kept, and created 0600 in a 0700 directory — rotated files too (Electrum).
"""

from __future__ import annotations

import logging
import os
import re
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path

LOG_NAME = "mirari.log"
MAX_BYTES = 1_000_000
BACKUPS = 5
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REDACTED = "[redacted]"

_PATTERNS = (
    # OpenAI-style keys (sk-…, sk-proj-…, sk-or-v1-… for OpenRouter)
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}"), "sk-" + REDACTED),
    # Authorization: Bearer <token>
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=\-]{6,}"), r"\1" + REDACTED),
    # JWTs (Supabase access tokens, anon/service keys)
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*"), REDACTED),
    # key=value / "key": "value" for names that only ever hold secrets
    (re.compile(r"(?i)([\"']?\b(?:api[_-]?key|apikey|password|passphrase|access_token|refresh_token|secret)"
                r"[\"']?\s*[:=]\s*[\"']?)[^\"'\s,;&}]+"), r"\1" + REDACTED),
)


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class PrivateRotatingFileHandler(RotatingFileHandler):
    """A RotatingFileHandler whose files (the current one and each new one after a rollover) are 0600."""

    def _open(self):  # noqa: ANN202 - logging API
        # O_BINARY (Windows only): os.open makes text-mode descriptors there, which would turn every
        # "\r\n" the text layer writes into "\r\r\n"; open() itself always adds it.
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0)
        fd = os.open(self.baseFilename, flags, 0o600)
        os.chmod(self.baseFilename, 0o600)  # a file left by an older version may be wider
        return os.fdopen(fd, self.mode, encoding=self.encoding, errors=self.errors)


def default_log_dir(data_dir: Path | None = None) -> Path:
    """`<data_dir>/logs` for an explicitly chosen data dir, else the OS log dir for MIRARI."""
    if data_dir is not None:
        return Path(data_dir) / "logs"
    import platformdirs

    return Path(platformdirs.user_log_dir("MIRARI", "MIRARI"))


def _ours(handler: logging.Handler) -> bool:
    return getattr(handler, "_mirari", False)


def configure_logging(log_dir: Path, level: int = logging.INFO, console: bool = True) -> Path | None:
    """Install the redacting console handler and the private log file on the root logger (replacing
    ones installed earlier). Returns the log file path, or None if the file cannot be created
    (logging then goes to the console only; the app still starts)."""
    remove_logging()
    root = logging.getLogger()
    formatter = RedactingFormatter(FORMAT)
    handlers: list[logging.Handler] = []
    if console and sys.stderr is not None:  # the windowed Windows program (mirari.exe) has no stderr
        handlers.append(logging.StreamHandler(sys.stderr))
    path: Path | None = Path(log_dir) / LOG_NAME
    try:
        Path(log_dir).mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(log_dir, 0o700)
        handlers.append(PrivateRotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS,
                                                   encoding="utf-8"))
    except OSError as exc:
        print(f"mirari: logging to the console only, cannot write {path}: {exc}", file=sys.stderr)
        path = None
    for handler in handlers:
        handler.setFormatter(formatter)
        handler._mirari = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request URL at INFO; that is noise in a chat app's log.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return path


def current_log_file() -> Path | None:
    """The file configure_logging is writing to, if any (the Settings page shows it)."""
    for handler in logging.getLogger().handlers:
        if _ours(handler) and isinstance(handler, RotatingFileHandler):
            return Path(handler.baseFilename)
    return None


def remove_logging() -> None:
    """Remove (and close) the handlers configure_logging installed."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if _ours(h)]:
        root.removeHandler(handler)
        handler.close()
