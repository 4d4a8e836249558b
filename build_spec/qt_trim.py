"""Which parts of Qt go into the bundle: the policy the spec applies, kept apart so it reads as a list.

PyInstaller's Qt hooks collect *every* plugin of each plugin type a Qt module may use, and then follow
their shared-library dependencies. So dropping a plugin afterwards is too late — its dependencies are
already in (the GTK3 platform theme alone drags in GTK, GDK, cairo, pango and friends). `install()`
filters plugins (and Windows' extra OpenGL DLLs) at the moment the hooks collect them instead.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path, PurePath

# Python modules of PySide6 the app may use. Everything else in PySide6 is excluded; a module the GUI
# actually imports is added by `pyside6_excludes()` so the bundle cannot silently lose it.
BASE_QT_MODULES = {"QtCore", "QtGui", "QtWidgets", "QtSvg"}

# Plugin type -> the plugin stems (file name without "lib" prefix and extension) to keep. A type not
# listed here is dropped entirely (evdev "generic" input, EGL device integrations, Wayland, network
# information/TLS backends, print support, SQL drivers, QML tooling, ...). None keeps every plugin.
_KEEP = {
    "linux": {
        # offscreen: the self-test and headless CI; minimal: a last-resort fallback. Wayland sessions
        # use xcb through XWayland, which saves the whole Wayland client stack.
        "platforms": {"qxcb", "qoffscreen", "qminimal"},
        # The xdg-desktop-portal theme gives native file dialogs and colour-scheme (dark mode) hints;
        # gtk3 is left out on purpose: it pulls the build machine's GTK stack into the bundle.
        "platformthemes": {"qxdgdesktopportal"},
        # Dead keys / compose sequences and IBus input methods (CJK etc.) — text entry is the app.
        # The Qt virtual keyboard is QML-based and left out.
        "platforminputcontexts": {"composeplatforminputcontextplugin", "ibusplatforminputcontextplugin"},
        # GLX integration lets xcb create GL contexts if a widget ever asks; tiny, links system libGL.
        "xcbglintegrations": {"qxcb-glx-integration"},
    },
    "win32": {
        "platforms": {"qwindows", "qoffscreen", "qminimal"},
    },
    "darwin": {
        "platforms": {"qcocoa", "qoffscreen", "qminimal"},
        "platforms/darwin": None,
    },
}
_KEEP_EVERYWHERE = {
    "imageformats": {"qsvg", "qico"},  # PNG, BMP, PPM and XPM are built into QtGui
    "iconengines": {"qsvgicon"},
    "styles": None,  # native styles (Windows 11 "modern", macOS); Fusion is built in
    "accessiblebridge": None,
}


def _platform_key() -> str:
    if sys.platform.startswith("linux"):
        return "linux"
    return "darwin" if sys.platform == "darwin" else "win32"


def plugin_stem(filename: str) -> str:
    """`libqxcb.so` / `qwindows.dll` / `libqcocoa.dylib` -> `qxcb` / `qwindows` / `qcocoa`."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"\.(so(\.\d+)*|dll|dylib)$", "", name)
    return name[3:] if name.startswith("lib") else name


def keep_plugin(plugin_type: str, filename: str, platform: str | None = None) -> bool:
    rules = {**_KEEP_EVERYWHERE, **_KEEP[platform or _platform_key()]}
    if plugin_type not in rules:
        return False
    wanted = rules[plugin_type]
    return wanted is None or plugin_stem(filename) in wanted


def install() -> None:
    """Make PyInstaller's Qt hooks collect only the plugins and extra DLLs this module accepts."""
    from PyInstaller.utils.hooks import qt as pyi_qt

    info = pyi_qt.QtLibraryInfo
    if getattr(info.collect_plugins, "_mirari_trimmed", False):
        return
    all_plugins, all_extras = info.collect_plugins, info.collect_extra_binaries

    def collect_wanted_plugins(self, plugin_type):
        return [(src, dst) for src, dst in all_plugins(self, plugin_type) if keep_plugin(plugin_type, src)]

    def collect_wanted_extra_binaries(self):
        return [(src, dst) for src, dst in all_extras(self) if keep_extra_binary(src)]

    collect_wanted_plugins._mirari_trimmed = True
    info.collect_plugins = collect_wanted_plugins
    info.collect_extra_binaries = collect_wanted_extra_binaries


def keep_extra_binary(filename: str) -> bool:
    """Windows only: Qt's software OpenGL renderer (opengl32sw.dll, ~20 MB) and ANGLE serve OpenGL and
    Qt Quick; a Qt Widgets app paints with the raster engine and never loads them. ICU stays."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].lower()
    return not (name == "opengl32sw.dll" or name in ("libegl.dll", "libglesv2.dll") or name.startswith("d3dcompiler"))


def qt_modules_used(source_dirs: list[Path]) -> set[str]:
    """The PySide6 submodules named in `import PySide6.X` / `from PySide6.X import` lines of our code."""
    used: set[str] = set()
    pattern = re.compile(r"^\s*(?:from|import)\s+PySide6\.(Qt\w+)", re.MULTILINE)
    for directory in source_dirs:
        for path in directory.rglob("*.py"):
            used.update(pattern.findall(path.read_text(encoding="utf-8")))
    return used


def pyside6_excludes(source_dirs: list[Path]) -> list[str]:
    """Every installed PySide6 Qt module the app neither needs nor imports, as `PySide6.QtX` names."""
    import PySide6

    keep = BASE_QT_MODULES | qt_modules_used(source_dirs)
    installed = {p.name.split(".")[0] for p in Path(PySide6.__file__).parent.iterdir()
                 if p.name.startswith("Qt") and p.suffix in {".so", ".pyd", ".pyi"}}
    return sorted(f"PySide6.{name}" for name in installed - keep)


def is_unwanted_data(dest_name: str) -> bool:
    """Qt translation catalogues: the UI is English, and Qt's own strings are built in as English."""
    parts = PurePath(dest_name.replace("\\", "/")).parts
    return len(parts) > 1 and parts[0] == "PySide6" and "translations" in parts and dest_name.endswith(".qm")
