"""GUI preferences in a QSettings INI file inside the data directory.

Keeping it beside the database (rather than in the OS registry) means `--data-dir` gives a fully
separate profile, tests never touch the user's real settings, and a backup of the folder is whole.
The file is 0600 like everything else MIRARI writes (it names the last export folder and the active
connection): created so before QSettings first writes it (QSettings replaces the file but keeps an
existing file's mode; a new one it would make 0644), and tightened if an older version left it wider.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

FILE_MODE = 0o600


def _private_file(path: Path) -> None:
    if os.name != "posix" or not path.parent.is_dir():
        return
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE))
    except FileExistsError:
        if stat.S_IMODE(path.stat().st_mode) != FILE_MODE:
            os.chmod(path, FILE_MODE)


class AppSettings:
    def __init__(self, data_dir: Path):
        self.path = Path(data_dir) / "desktop.ini"
        _private_file(self.path)
        self._s = QSettings(str(self.path), QSettings.Format.IniFormat)

    def _get(self, key: str, default: str) -> str:
        value = self._s.value(key, default)
        return str(value) if value is not None else default

    @property
    def theme(self) -> str:
        return self._get("appearance/theme", "system")

    @theme.setter
    def theme(self, value: str) -> None:
        self._s.setValue("appearance/theme", value)
        self._s.sync()

    def window_geometry(self) -> QByteArray | None:
        value = self._s.value("window/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def save_window_geometry(self, geometry: QByteArray) -> None:
        self._s.setValue("window/geometry", geometry)
        self._s.sync()

    @property
    def active_connection(self) -> str:
        return self._get("console/connection", "")

    @active_connection.setter
    def active_connection(self, value: str) -> None:
        self._s.setValue("console/connection", value)
        self._s.sync()

    @property
    def export_dir(self) -> str:
        """The folder of the last export ("" before the first)."""
        return self._get("console/export_dir", "")

    @export_dir.setter
    def export_dir(self, value: str) -> None:
        self._s.setValue("console/export_dir", value)
        self._s.sync()

    @property
    def console_tools(self) -> bool:
        """The Console's ⚒ Tools switch (on until turned off)."""
        return self._get("console/tools", "on") != "off"

    @console_tools.setter
    def console_tools(self, on: bool) -> None:
        self._s.setValue("console/tools", "on" if on else "off")
        self._s.sync()
