"""The layer order, enforced: local_schema <- sync <- agent <- desktop <- mirari (each imports only its own
layer and the ones below), nothing outside desktop/ imports PySide6, no app package imports the tests or
the stand-in, and the headless command line starts without Qt or desktop/."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADLESS_PACKAGES = ["local_schema", "sync", "agent"]
LAYERS = {"local_schema": 0, "sync": 1, "agent": 2, "desktop": 3, "mirari": 4}
QT = {"PySide6", "shiboken6"}


def _imports(path: Path, *, in_functions: bool = True) -> set[str]:
    """Top-level names of every absolute import in `path` (inside functions too, unless told not to)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    skip: set[int] = set()
    if not in_functions:
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                skip.update(id(node) for node in ast.walk(fn))
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _files(*packages: str):
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield package, path


def _offenders(packages, forbidden_of) -> list[str]:
    return [f"{path.relative_to(ROOT)}: {sorted(bad)}" for package, path in _files(*packages)
            if (bad := forbidden_of(package, path))]


def test_no_pyside6_outside_desktop_in_source():
    offenders = _offenders(HEADLESS_PACKAGES + ["mirari"], lambda _p, path: QT & _imports(path))
    assert offenders == [], f"these modules outside desktop/ import Qt: {offenders}"


def test_headless_packages_import_without_qt_loaded():
    # Import every module of the headless layers in a fresh interpreter and check Qt never got loaded,
    # which also catches an indirect import through a third module.
    modules = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for _package, path in _files(*HEADLESS_PACKAGES)
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'shiboken6', 'desktop'))]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_each_layer_imports_only_its_own_and_the_layers_below():
    """Imports inside functions count too; the launcher alone may import desktop, and only inside the
    function that opens the window or runs the self-test."""
    def above(package: str, path: Path) -> set[str]:
        names = _imports(path, in_functions=package != "mirari")
        return {name for name in names if LAYERS.get(name, -1) > LAYERS[package]}

    assert _offenders(LAYERS, above) == []


def test_no_app_package_imports_the_tests_or_the_standin():
    offenders = _offenders(LAYERS, lambda _p, path: {"tests", "standin"} & _imports(path))
    offenders += _offenders(["bench", "scripts", "standin"], lambda _p, path: {"tests"} & _imports(path))
    offenders += _offenders(["standin"], lambda _p, path: {"desktop", "mirari"} & _imports(path))
    assert offenders == []


def test_the_headless_command_line_loads_neither_qt_nor_desktop():
    for argv, also_absent in ((["--version"], ("sqlalchemy", "sqlmodel")), (["memory", "--help"], ())):
        code = (
            "import runpy, sys\n"
            f"sys.argv = ['mirari', *{argv!r}]\n"
            "try:\n    runpy.run_module('mirari', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            f"bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'desktop', *{also_absent!r})]\n"
            "print(bad, file=sys.stderr); sys.exit(1 if bad else 0)\n"
        )
        proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode == 0 and proc.stdout.strip(), (argv, proc.stderr)


def test_the_standin_is_never_bundled():
    import tomllib

    found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert not any(pattern.startswith(("standin", "tests")) for pattern in found["include"])
    assert "mirari*" in found["include"]
    spec = (ROOT / "build_spec" / "mirari.spec").read_text()
    line = next(line for line in spec.splitlines() if line.startswith("APP_PACKAGES ="))
    packages = ast.literal_eval(line.split("=", 1)[1].split("#")[0].strip())
    assert set(packages) == set(LAYERS)
