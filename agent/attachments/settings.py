"""Attachment limits: a small JSON file in the data dir (`attachments.json`), shared by the window and the
commands, like dream.json. Every number is clamped, so a hand-edited file cannot lift the server's bounds."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from local_schema.atomic import atomic_write

log = logging.getLogger(__name__)

FILE_NAME = "attachments.json"
SERVER_MAX_BYTES = 50 * 1024 * 1024  # attachments_size_range and the bucket's file_size_limit


@dataclass(frozen=True)
class AttachmentSettings:
    max_file_mb: float = 20.0  # any attachment larger than this is refused before anything is sent or stored
    image_max_side: int = 2048  # px: a larger image is downscaled for the model (the stored file is unchanged)
    image_max_kb: int = 3072  # an image sent as a data URL is re-encoded until it is at most this large
    max_text_chars: int = 400_000  # the text of one file (or a PDF's extracted text)

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    def validated(self) -> AttachmentSettings:
        def clamp(value, low, high, default, kind=int):
            try:
                number = kind(value)
            except (TypeError, ValueError, OverflowError):
                return default
            return default if number != number else min(high, max(low, number))  # NaN

        d = AttachmentSettings()
        return AttachmentSettings(
            max_file_mb=clamp(self.max_file_mb, 0.001, SERVER_MAX_BYTES / 1024 / 1024, d.max_file_mb, float),
            image_max_side=clamp(self.image_max_side, 64, 8192, d.image_max_side),
            image_max_kb=clamp(self.image_max_kb, 16, 20 * 1024, d.image_max_kb),
            max_text_chars=clamp(self.max_text_chars, 1000, 5_000_000, d.max_text_chars),
        )


def load_settings(data_dir: str | Path) -> AttachmentSettings:
    path = Path(data_dir) / FILE_NAME
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return AttachmentSettings()
    except (OSError, ValueError) as exc:
        log.warning("attachment settings in %s unreadable (%s); using the defaults", path, exc)
        return AttachmentSettings()
    if not isinstance(raw, dict):
        return AttachmentSettings()
    known = {f.name for f in fields(AttachmentSettings)}
    return AttachmentSettings(**{k: v for k, v in raw.items() if k in known}).validated()


def save_settings(data_dir: str | Path, settings: AttachmentSettings) -> AttachmentSettings:
    settings = settings.validated()
    atomic_write(Path(data_dir) / FILE_NAME, json.dumps(asdict(settings), indent=2).encode("utf-8"))
    return settings
