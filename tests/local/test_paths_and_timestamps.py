"""Where data lives, and the timestamp format shared with the server."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import platformdirs
import pytest

from local_schema.paths import DATA_DIR_ENV, database_path, resolve_data_dir
from local_schema.timestamps import format_timestamp, normalize_timestamp, parse_timestamp, utc_now
from tests.portable import mode_of, shown_mode


def _platform_dirs_in(tmp_path: Path, monkeypatch) -> None:
    """Keep the real home untouched: platformdirs' user data dir moves into tmp_path/xdg. On Linux through
    XDG_DATA_HOME, as a user would move it; macOS and Windows take theirs from the OS (no variable), so
    there platformdirs' answer is replaced."""
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    else:
        monkeypatch.setattr(platformdirs, "user_data_dir",
                            lambda appname, appauthor=None: str(tmp_path / "xdg" / appname))


def test_override_beats_environment_beats_platform_default(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "from-env"))
    assert resolve_data_dir(str(tmp_path / "from-flag")) == (tmp_path / "from-flag").resolve()
    assert resolve_data_dir() == (tmp_path / "from-env").resolve()
    monkeypatch.delenv(DATA_DIR_ENV)
    _platform_dirs_in(tmp_path, monkeypatch)
    expected = os.path.realpath(platformdirs.user_data_dir("MIRARI", "MIRARI"))
    assert str(resolve_data_dir()) == expected
    assert expected.startswith(os.path.realpath(tmp_path))


def test_data_dir_is_created_private(tmp_path):
    data = resolve_data_dir(str(tmp_path / "a" / "b"))
    assert data.is_dir()
    assert mode_of(data) == shown_mode(0o700, directory=True)


def test_an_existing_user_chosen_dir_keeps_its_mode_but_our_default_is_tightened(tmp_path, monkeypatch):
    chosen = tmp_path / "Documents"
    chosen.mkdir(mode=0o755)
    os.chmod(chosen, 0o755)
    assert mode_of(resolve_data_dir(str(chosen))) == shown_mode(0o755, directory=True)
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    _platform_dirs_in(tmp_path, monkeypatch)
    default = tmp_path / "xdg" / "MIRARI"
    default.mkdir(parents=True)
    os.chmod(default, 0o755)
    assert resolve_data_dir() == default.resolve()
    assert mode_of(default) == shown_mode(0o700, directory=True)


def test_database_paths(tmp_path):
    assert database_path(tmp_path) == tmp_path / "local.sqlite3"
    account = "2F1D3C4B-0000-4000-8000-00000000ABCD"
    path = database_path(tmp_path, account)
    assert path == tmp_path / "accounts" / f"{account.lower()}.sqlite3"
    assert mode_of(tmp_path / "accounts") == shown_mode(0o700, directory=True)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "", "abc", "2f1d3c4b-0000-4000-8000-00000000abcd/.."])
def test_account_id_must_be_a_uuid(tmp_path, bad):
    with pytest.raises(ValueError, match="uuid"):
        database_path(tmp_path, bad)


def test_utc_now_has_the_server_shape():
    value = utc_now()
    assert len(value) == len("2024-05-01T12:00:00.123456+00:00")
    assert value[10] == "T" and value[19] == "." and value.endswith("+00:00")
    assert abs(parse_timestamp(value) - datetime.now(UTC)) < timedelta(seconds=5)


def test_six_digits_even_on_a_whole_second():
    assert format_timestamp(datetime(2024, 5, 1, 12, tzinfo=UTC)) == "2024-05-01T12:00:00.000000+00:00"


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("2024-05-01T12:00:00.123456+00:00", "2024-05-01T12:00:00.123456+00:00"),
        ("2024-05-01T12:00:00.1+00:00", "2024-05-01T12:00:00.100000+00:00"),  # PostgreSQL trims zeros
        ("2024-05-01T12:00:00+00:00", "2024-05-01T12:00:00.000000+00:00"),
        ("2024-05-01 14:00:00.5+02", "2024-05-01T12:00:00.500000+00:00"),
        ("2024-05-01T12:00:00Z", "2024-05-01T12:00:00.000000+00:00"),
    ],
)
def test_parse_and_normalize(raw, canonical):
    assert normalize_timestamp(raw) == canonical


@pytest.mark.parametrize("bad", ["2024-05-01T12:00:00", "yesterday", "2024-05-01T12:00:00.1234567+00:00", 5])
def test_parse_rejects_ambiguous_or_malformed(bad):
    with pytest.raises(ValueError):
        parse_timestamp(bad)


def test_format_rejects_naive_and_converts_other_zones():
    with pytest.raises(ValueError, match="naive"):
        format_timestamp(datetime(2024, 1, 1))
    tokyo = datetime(2024, 1, 1, 9, tzinfo=timezone(timedelta(hours=9)))
    assert format_timestamp(tokyo) == "2024-01-01T00:00:00.000000+00:00"
