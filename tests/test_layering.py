"""The layers below the GUI must run headless: nothing outside desktop/ may import PySide6."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADLESS_PACKAGES = ["local_schema", "sync", "agent"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_pyside6_outside_desktop_in_source():
    offenders = [
        str(path.relative_to(ROOT))
        for package in HEADLESS_PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if {"PySide6", "shiboken6", "desktop"} & _imports(path)
    ]
    assert offenders == [], f"these headless modules import Qt or the GUI: {offenders}"


def test_headless_packages_import_without_qt_loaded():
    # Import every module of the headless layers in a fresh interpreter and check Qt never got loaded,
    # which also catches an indirect import through a third module.
    modules = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for package in HEADLESS_PACKAGES
        for path in (ROOT / package).rglob("*.py")
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'shiboken6', 'desktop'))]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_each_layer_imports_only_the_layers_below_it():
    """desktop -> agent -> sync -> local_schema: local_schema (backups included) knows nothing of sync or
    agent, and sync nothing of agent."""
    above = {"local_schema": {"sync", "agent", "desktop"}, "sync": {"agent", "desktop"}}
    offenders = [
        str(path.relative_to(ROOT))
        for package, forbidden in above.items()
        for path in (ROOT / package).rglob("*.py")
        if forbidden & _imports(path)  # ast.walk: imports inside functions count too
    ]
    assert offenders == [], f"these modules import a layer above their own: {offenders}"
