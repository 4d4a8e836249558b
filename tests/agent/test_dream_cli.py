"""`mirari dream …` driven as a user would: exact forms, JSON output, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from local_schema.database import open_database
from local_schema.models import AgentConnection
from mirari.main import main
from standin.demo.dream import consolidating_model, plant_atlas
from sync.accounts import active_database_path


@pytest.fixture
def data_dir(tmp_path, memory_keyring):
    return tmp_path / "profile"


@pytest.fixture
def connection(data_dir, fake_llm):
    data_dir.mkdir(parents=True, exist_ok=True)
    db = open_database(active_database_path(data_dir))
    try:
        with db.write() as s:
            c = AgentConnection(name="Dreamer", provider="custom", base_url=fake_llm.base_url, model="m")
            s.add(c)
        plant_atlas(db)
    finally:
        db.close()
    fake_llm.responder = consolidating_model
    return c.id


def _run(capsys, data_dir, *argv):
    code = main(["--data-dir", str(data_dir), "dream", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_run_list_show_accept_reject(capsys, data_dir, connection):
    code, out, err = _run(capsys, data_dir, "run", "--kind", "consolidate", "--connection", connection, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["status"] == "done" and report["kind"] == "consolidate"
    assert {p["kind"] for p in report["proposals"]} == {"merge", "keep_one", "delete"}

    code, out, _ = _run(capsys, data_dir, "list", "--json")
    listed = json.loads(out)
    assert isinstance(listed, list) and [r["id"] for r in listed] == [report["id"]]
    assert {"kind", "status", "started_at", "finished_at", "budget", "findings", "proposals"} <= set(listed[0])

    code, out, _ = _run(capsys, data_dir, "show", report["id"][:8])
    assert code == 0 and "1. [open]" in out and "contradicts" in out

    code, out, _ = _run(capsys, data_dir, "accept", report["id"], "1")
    assert code == 0 and out.strip()
    code, out, _ = _run(capsys, data_dir, "reject", report["id"], "p2")
    assert code == 0 and out.startswith("Rejected")
    code, out, _ = _run(capsys, data_dir, "show", report["id"], "--json")
    states = [p["state"] for p in json.loads(out)["proposals"]]
    assert states[:2] == ["accepted", "rejected"] and set(states[2:]) == {"open"}


def test_run_without_a_kind_dreams_the_kind_whose_turn_it_is(capsys, data_dir, connection):
    kinds = []
    for _ in range(2):
        _code, out, err = _run(capsys, data_dir, "run", "--connection", connection, "--json")
        kinds.append(json.loads(out)["kind"])
    assert kinds == ["consolidate", "replay"]  # never dreamt first, as the window's automatic dreams


@pytest.mark.parametrize("argv, says", [
    (["show", "no-such-report"], "no dream report"),
    (["accept", "no-such-report", "1"], "no dream report"),
    (["run", "--kind", "consolidate", "--connection", "missing"], "no connection"),
])
def test_errors_are_one_line_and_non_zero(capsys, data_dir, connection, argv, says):
    code, out, err = _run(capsys, data_dir, *argv)
    assert code != 0 and out == ""
    assert err.count("\n") == 1 and err.startswith("mirari: error:") and says in err


def test_a_proposal_number_out_of_range_is_refused(capsys, data_dir, connection):
    _code, out, _ = _run(capsys, data_dir, "run", "--kind", "consolidate", "--connection", connection, "--json")
    report_id = json.loads(out)["id"]
    code, _out, err = _run(capsys, data_dir, "accept", report_id, "42")
    assert code == 1 and "has no proposal '42'" in err


def test_the_budget_flag_limits_the_dream(capsys, data_dir, connection, fake_llm):
    code, out, _ = _run(capsys, data_dir, "run", "--kind", "consolidate", "--connection", connection,
                        "--max-requests", "1", "--json")
    assert code == 0 and json.loads(out)["status"] == "partial"
    assert len(fake_llm.chat_requests) == 1


def test_the_command_runs_in_a_fresh_process(data_dir, connection):
    proc = subprocess.run([sys.executable, "-m", "mirari", "--data-dir", str(data_dir), "dream", "list",
                           "--json"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []
