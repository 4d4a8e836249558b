"""`mirari knowledge add|list|search|reindex|remove` on a real data dir and folder."""

from __future__ import annotations

import json

from tests.agent.test_knowledge import folder  # noqa: F401 - the fixture


def test_the_knowledge_commands(mirari, folder):  # noqa: F811 - the fixture
    run = mirari("knowledge", "add", "notes", str(folder))
    assert run.code == 0 and run.out.strip() == ("notes: 4 files (3 read, 0 unchanged, 0 removed, 1 skipped), "
                                                 "3 passages written")
    listed = json.loads(mirari("knowledge", "list", "--json").out)
    assert [(s["name"], s["folder"], s["files"], s["passages"]) for s in listed] == [
        ("notes", str(folder.resolve()), 3, 3)]
    found = json.loads(mirari("knowledge", "search", "notes", "basil", "--json").out)
    assert found[0]["file"] == "garden.md" and found[0]["source"] == "garden.md:1-4"
    assert set(found[0]) == {"set", "file", "start_line", "end_line", "source", "text", "score"}
    text = mirari("knowledge", "search", "notes", "basil")
    assert text.out.startswith("garden.md:1-4\n    # Garden")
    assert mirari("knowledge", "reindex", "notes").out.strip().startswith("notes: 4 files (0 read, 4 unchanged")
    dup = mirari("knowledge", "add", "notes", str(folder))
    assert dup.code == 1 and dup.err.strip() == "mirari: error: there is already a knowledge set named notes"
    assert mirari("knowledge", "remove", "notes").out.strip() == "removed notes"
    gone = mirari("knowledge", "search", "notes", "basil")
    assert gone.code == 1 and gone.err.strip() == "mirari: error: no knowledge set named notes"
