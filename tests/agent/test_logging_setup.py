"""Logs never hold a key, and the log file is private and size-capped."""

import logging

import pytest

from agent.logging_setup import configure_logging, redact, remove_logging
from tests.portable import mode_of, shown_mode


@pytest.fixture
def logs(tmp_path):
    root = logging.getLogger()
    level = root.level
    path = configure_logging(tmp_path / "logs", console=False)
    yield path
    remove_logging()
    root.setLevel(level)


@pytest.mark.parametrize("secret", [
    "sk-proj-AbCdEf0123456789xyz",
    "sk-or-v1-0123456789abcdef0123",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJlLWhlcmU",
])
def test_keys_and_tokens_are_redacted_in_messages_and_tracebacks(logs, secret):
    log = logging.getLogger("mirari.test")
    log.warning("request failed for %s", secret)
    log.info("Authorization: Bearer %s", secret.removeprefix("sk-"))
    try:
        raise RuntimeError(f"server said: invalid key {secret}")
    except RuntimeError:
        log.exception("turn failed")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = logs.read_text("utf-8")
    assert "request failed for" in text and "turn failed" in text and "RuntimeError" in text
    assert secret not in text and secret.removeprefix("sk-") not in text
    assert "[redacted]" in text


def test_key_value_pairs_are_redacted_but_ordinary_text_is_not():
    assert redact('{"api_key": "abc123", "model": "m"}') == '{"api_key": "[redacted]", "model": "m"}'
    assert redact("password=hunter2&user=me") == "password=[redacted]&user=me"
    assert redact("ask-me about skills and sk-8 later") == "ask-me about skills and sk-8 later"


def test_the_log_file_is_private_and_rotates_into_private_files(tmp_path):
    root = logging.getLogger()
    level = root.level
    path = configure_logging(tmp_path / "logs", console=False)
    try:
        handler = next(h for h in root.handlers if getattr(h, "baseFilename", None) == str(path))
        handler.maxBytes = 2_000
        for i in range(100):
            logging.getLogger("mirari.test").info("line %d %s", i, "x" * 50)
    finally:
        remove_logging()
        root.setLevel(level)
    files = sorted((tmp_path / "logs").iterdir())
    assert path in files and len(files) > 1  # rolled over, old files kept
    assert len(files) <= 6  # 1 MB x (1 + 5 backups) at most by default: the cap holds here too
    assert mode_of(tmp_path / "logs") == shown_mode(0o700, directory=True)
    assert all(mode_of(f) == shown_mode(0o600) for f in files)


def test_an_unwritable_log_dir_falls_back_to_the_console(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    root = logging.getLogger()
    level = root.level
    try:
        assert configure_logging(blocker / "logs") is None
    finally:
        remove_logging()
        root.setLevel(level)
    assert "console only" in capsys.readouterr().err


def test_the_log_file_is_opened_in_binary_mode_where_the_os_has_text_mode(tmp_path, monkeypatch):
    """Windows: a descriptor from os.open is in text mode unless O_BINARY is given, and would turn the
    "\\r\\n" the text layer writes into "\\r\\r\\n". Where the flag does not exist (POSIX) a stand-in
    bit is given to os and stripped again before the real open."""
    import os

    from agent.logging_setup import PrivateRotatingFileHandler

    o_binary = getattr(os, "O_BINARY", None)
    stand_in = o_binary is None
    if stand_in:
        o_binary = 0x40000000  # unused by Linux's and macOS's open(2)
        monkeypatch.setattr(os, "O_BINARY", o_binary, raising=False)
    real_open, seen = os.open, []

    def recording_open(path, flags, mode=0o777, **kwargs):
        seen.append((str(path), flags))
        return real_open(path, flags & ~o_binary if stand_in else flags, mode, **kwargs)

    monkeypatch.setattr(os, "open", recording_open)
    handler = PrivateRotatingFileHandler(tmp_path / "mirari.log", maxBytes=1000, backupCount=1, encoding="utf-8")
    try:
        handler.emit(logging.makeLogRecord({"msg": "one line"}))
    finally:
        handler.close()
    log_opens = [flags for path, flags in seen if path.endswith("mirari.log")]
    assert log_opens and all(flags & o_binary for flags in log_opens)
    assert (tmp_path / "mirari.log").read_bytes() == b"one line" + os.linesep.encode()


def test_a_program_without_stderr_logs_to_the_file_only(tmp_path, monkeypatch):
    """The windowed Windows build (mirari.exe, console=False) starts with sys.stderr = None: a console
    handler there would fail on every record."""
    import sys

    monkeypatch.setattr(sys, "stderr", None)
    root = logging.getLogger()
    level = root.level
    path = configure_logging(tmp_path / "logs")
    try:
        ours = [h for h in root.handlers if getattr(h, "_mirari", False)]
        assert [type(h).__name__ for h in ours] == ["PrivateRotatingFileHandler"]
        logging.getLogger("mirari.test").warning("still written")
        ours[0].flush()
    finally:
        remove_logging()
        root.setLevel(level)
    assert "still written" in path.read_text("utf-8")
