"""The fast parts of packaging: icons generated from the one SVG, and the Qt trimming policy."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "build_spec"))
import qt_trim  # noqa: E402


@pytest.fixture(scope="module")
def icons(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("icons")
    proc = subprocess.run([sys.executable, str(ROOT / "build_spec" / "make_icons.py"), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return out


def _png_size(blob: bytes) -> tuple[int, int]:
    assert blob[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", blob[16:24])


def test_pngs_have_the_size_in_their_name_and_are_not_blank(icons):
    from PySide6.QtGui import QImage

    for size in (16, 32, 256, 1024):
        path = icons / f"mirari-{size}.png"
        assert _png_size(path.read_bytes()) == (size, size)
        image = QImage(str(path))
        centre, corner = image.pixelColor(size // 2, size // 2), image.pixelColor(0, 0)
        assert centre.alpha() == 255 and corner.alpha() < 255  # drawn tile, rounded transparent corner


def test_ico_directory_points_at_each_png(icons):
    data = (icons / "mirari.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", data[:6])
    assert (reserved, kind, count) == (0, 1, 7)
    sizes = []
    for i in range(count):
        width, height, _, _, planes, bits, length, offset = struct.unpack("<BBBBHHII", data[6 + 16 * i:22 + 16 * i])
        assert (planes, bits) == (1, 32)
        blob = data[offset:offset + length]
        assert _png_size(blob) == ((width or 256), (height or 256))
        sizes.append(width or 256)
    assert sizes == [16, 24, 32, 48, 64, 128, 256]
    assert offset + length == len(data)


def test_icns_chunks_cover_the_file(icons):
    data = (icons / "mirari.icns").read_bytes()
    assert data[:4] == b"icns" and struct.unpack(">I", data[4:8])[0] == len(data)
    pos, found = 8, {}
    while pos < len(data):
        kind, length = data[pos:pos + 4], struct.unpack(">I", data[pos + 4:pos + 8])[0]
        found[kind] = _png_size(data[pos + 8:pos + length])[0]
        pos += length
    assert pos == len(data)
    assert found == {b"icp4": 16, b"icp5": 32, b"icp6": 64, b"ic07": 128, b"ic08": 256, b"ic09": 512, b"ic10": 1024}


@pytest.mark.parametrize(("platform", "plugin_type", "filename", "kept"), [
    ("linux", "platforms", "/q/plugins/platforms/libqxcb.so", True),
    ("linux", "platforms", "libqoffscreen.so", True),
    ("linux", "platforms", "libqwayland.so", False),
    ("linux", "platforms", "libqeglfs.so", False),
    ("linux", "platformthemes", "libqgtk3.so", False),       # would drag the GTK stack in
    ("linux", "platformthemes", "libqxdgdesktopportal.so", True),
    ("linux", "imageformats", "libqsvg.so", True),
    ("linux", "imageformats", "libqtiff.so", False),
    ("linux", "iconengines", "libqsvgicon.so", True),
    ("linux", "tls", "libqopensslbackend.so", False),
    ("linux", "wayland-shell-integration", "libxdg-shell.so", False),
    ("win32", "platforms", "C:\\qt\\plugins\\platforms\\qwindows.dll", True),
    ("win32", "platforms", "qdirect2d.dll", False),
    ("win32", "styles", "qmodernwindowsstyle.dll", True),
    ("darwin", "platforms", "libqcocoa.dylib", True),
    ("darwin", "platforms", "libqxcb.so", False),
])
def test_plugin_policy(platform, plugin_type, filename, kept):
    assert qt_trim.keep_plugin(plugin_type, filename, platform) is kept


def test_windows_software_opengl_is_dropped_but_icu_stays():
    assert not qt_trim.keep_extra_binary("C:\\venv\\PySide6\\opengl32sw.dll")
    assert not qt_trim.keep_extra_binary("d3dcompiler_47.dll")
    assert qt_trim.keep_extra_binary("C:\\venv\\PySide6\\icudt73.dll")


def test_translations_are_dropped_but_nothing_else():
    assert qt_trim.is_unwanted_data("PySide6/Qt/translations/qtbase_de.qm")
    assert qt_trim.is_unwanted_data("PySide6\\translations\\qt_fr.qm")  # Windows wheel layout
    assert not qt_trim.is_unwanted_data("local_schema/migrations/v0001.sql")
    assert not qt_trim.is_unwanted_data("certifi/cacert.pem")


def test_qt_modules_the_gui_imports_are_never_excluded(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "net.py").write_text("from PySide6.QtNetwork import QLocalServer\n")
    excludes = qt_trim.pyside6_excludes([tmp_path / "pkg"])
    assert "PySide6.QtNetwork" not in excludes
    assert "PySide6.QtQuick" in excludes and "PySide6.QtWidgets" not in excludes
