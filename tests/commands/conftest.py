"""The `mirari <noun> …` commands driven as a user would: `main(argv)` in-process with --data-dir (same
parser, handlers and exit codes as the installed command), and a few real subprocesses."""

from __future__ import annotations

from dataclasses import dataclass

import pytest


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def _only_the_test_keychain(memory_keyring):
    return memory_keyring


@pytest.fixture
def mirari(tmp_path, capsys, monkeypatch):
    """mirari("memory", "list", "--json") -> Run(code, out, err), on this test's own data dir."""
    from mirari.main import main

    monkeypatch.delenv("MIRARI_API_KEY", raising=False)
    monkeypatch.delenv("MIRARI_KEY_PASSPHRASE", raising=False)
    data = tmp_path / "data"

    def run(*argv: str) -> Run:
        capsys.readouterr()
        code = main(["--data-dir", str(data), *argv])
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    run.data_dir = data
    return run


def one_error_line(result: Run) -> str:
    """A failed command: non-zero, nothing on stdout, exactly one `mirari: error:` line on stderr."""
    assert result.code != 0, result
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mirari: error: "), result.err
    return lines[0].removeprefix("mirari: error: ")
