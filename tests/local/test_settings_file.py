"""The device's small settings files (dream.json, attachments.json, backup.json) share one reader and
writer: each must treat damage the same way."""

from __future__ import annotations

import json

import pytest

from agent.attachments.settings import AttachmentSettings
from agent.attachments.settings import load_settings as load_attachments
from agent.dream.settings import DreamSettings
from agent.dream.settings import load_settings as load_dream
from agent.dream.settings import save_settings as save_dream
from local_schema.backup.settings import BackupSettings
from local_schema.backup.settings import load_settings as load_backup
from local_schema.settings_file import clamp
from tests.portable import mode_of, shown_mode

CASES = [(load_dream, "dream.json", DreamSettings), (load_attachments, "attachments.json", AttachmentSettings),
         (load_backup, "backup.json", BackupSettings)]


@pytest.mark.parametrize("load, name, cls", CASES)
@pytest.mark.parametrize("content", ["", "{", "[1, 2]", '"text"', "\x00\x01"])
def test_a_damaged_file_means_the_defaults(tmp_path, load, name, cls, content):
    (tmp_path / name).write_text(content, encoding="utf-8")
    assert load(tmp_path) == cls()


@pytest.mark.parametrize("load, name, cls", CASES)
def test_unknown_keys_are_dropped_and_odd_numbers_fall_back(tmp_path, load, name, cls):
    defaults = cls()
    numeric = [k for k, v in vars(defaults).items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    raw = {"not a setting": 1, **{k: "NaN" for k in numeric}}
    (tmp_path / name).write_text(json.dumps(raw), encoding="utf-8")
    assert load(tmp_path) == defaults


def test_clamp_brings_values_into_range_and_refuses_what_is_not_a_number():
    assert clamp("12", 1, 10, 5) == 10 and clamp(-3, 1, 10, 5) == 1 and clamp(7, 1, 10, 5) == 7
    assert clamp(float("nan"), 0, 1, 0.5, float) == 0.5
    assert clamp(1e400, 1, 10, 5) == 5 and clamp(None, 1, 10, 5) == 5 and clamp("x", 1, 10, 5) == 5


def test_a_save_is_validated_private_and_read_back(tmp_path):
    saved = save_dream(tmp_path, DreamSettings(idle_minutes=10**9, replay_turns=0))
    assert saved.idle_minutes == 24 * 60 and saved.replay_turns == 1
    assert load_dream(tmp_path) == saved
    assert mode_of(tmp_path / "dream.json") == shown_mode(0o600)
