"""Attachment limits: a small JSON file in the data dir (`attachments.json`), shared by the window and the
commands, like dream.json. Every number is clamped, so a hand-edited file cannot lift the server's bounds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from local_schema import settings_file
from local_schema.settings_file import clamp

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
        d = AttachmentSettings()
        return AttachmentSettings(
            max_file_mb=clamp(self.max_file_mb, 0.001, SERVER_MAX_BYTES / 1024 / 1024, d.max_file_mb, float),
            image_max_side=clamp(self.image_max_side, 64, 8192, d.image_max_side),
            image_max_kb=clamp(self.image_max_kb, 16, 20 * 1024, d.image_max_kb),
            max_text_chars=clamp(self.max_text_chars, 1000, 5_000_000, d.max_text_chars),
        )


def load_settings(data_dir: str | Path) -> AttachmentSettings:
    return settings_file.load(Path(data_dir) / FILE_NAME, AttachmentSettings)


def save_settings(data_dir: str | Path, settings: AttachmentSettings) -> AttachmentSettings:
    return settings_file.save(Path(data_dir) / FILE_NAME, settings)
