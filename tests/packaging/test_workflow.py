""".github/workflows/*.yml: valid for GitHub's workflow schema, and the build workflow does what
docs/platforms.md says — the whole suite on every OS, PostgreSQL set up on each, the frozen app's
self-test, signing only where its secrets are."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))

pytest.importorskip("check_jsonschema", reason="check-jsonschema is in the dev extra: pip install -e '.[dev]'")


def _build() -> dict:
    from ruamel.yaml import YAML  # check-jsonschema's YAML parser

    return YAML(typ="safe").load((ROOT / ".github" / "workflows" / "build.yml").read_text(encoding="utf-8"))


def test_every_workflow_is_valid_for_githubs_schema():
    assert WORKFLOWS
    proc = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                           *map(str, WORKFLOWS)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_build_runs_the_whole_suite_with_postgresql_on_every_os():
    job = _build()["jobs"]["build"]
    assert set(job["strategy"]["matrix"]["os"]) == {"ubuntu-latest", "windows-latest", "macos-latest"}
    steps = job["steps"]
    tests = [s for s in steps if "pytest" in s.get("run", "")]
    assert len(tests) == 1 and "if" not in tests[0]  # one test step, on every OS
    # Nothing that selects part of the suite: no plugin that skips, no -k / -m / --deselect / paths.
    for line in tests[0]["run"].splitlines():
        if "pytest" in line:
            assert line.split("pytest", 1)[1].split() == ["-p", "no:cacheprovider"], line
    pg_steps = {s.get("if", "") for s in steps if "MIRARI_PG_BIN" in s.get("run", "")}
    assert {"runner.os == 'Linux'", "runner.os == 'Windows'", "runner.os == 'macOS'"} <= pg_steps
    self_test = [s for s in steps if "--self-test" in s.get("run", "")]
    assert self_test and "if" not in self_test[0]


def test_secrets_only_reach_the_signing_steps_and_those_run_only_when_set():
    job = _build()["jobs"]["build"]
    for step in job["steps"]:
        uses_secrets = any("secrets." in str(value) for value in (step.get("env") or {}).values())
        signing = step.get("name", "").startswith("Sign")
        assert uses_secrets == signing, step.get("name")
        if signing:
            # `if:` cannot read secrets: the job's HAS_* flags (computed from them) guard the step.
            assert "env.HAS_" in step["if"] and "== 'true'" in step["if"], step["name"]
            assert "secrets." not in step["if"] and "secrets." not in step["run"]
    flags = {name: value for name, value in job["env"].items() if name.startswith("HAS_")}
    assert flags and all(value.startswith("${{ secrets.") for value in flags.values())
