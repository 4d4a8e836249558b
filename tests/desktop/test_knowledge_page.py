"""The Knowledge page in the real window: add a folder (indexed as a long job), the sets table, search with
file:line, reindex after a change, Cancel keeps what was done, remove; text from files stays plain."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt


def _folder(tmp_path):
    root = tmp_path / "notes"
    root.mkdir()
    (root / "garden.md").write_text("# Garden\n\nWater the <b>basil</b> daily.\n")
    (root / "code.py").write_text("def solve():\n    return 42\n")
    return root


def _wait_job(qtbot, page):
    qtbot.waitUntil(lambda: page.job is not None and not page.job.active, timeout=20_000)
    qtbot.waitUntil(lambda: page.cancel_button.isHidden(), timeout=5_000)


def test_add_search_reindex_and_remove(qtbot, window, settle, tmp_path):
    page = window.show_page("knowledge")
    root = _folder(tmp_path)
    assert page.empty.isVisibleTo(page)
    page.name_edit.setText("Notes")
    page.folder_edit.setText(str(root))
    page.add_button.click()
    settle()
    _wait_job(qtbot, page)
    settle()
    assert page.status.text().startswith("Notes: 2 files — 2 read")
    assert [page.table.item(0, c).text() for c in (0, 1, 2, 4)] == ["Notes", str(root.resolve()), "2", "0"]
    assert page.table.item(0, 5).text().endswith("UTC")

    page.search_edit.setText("basil")
    page.search()
    settle()
    first = page.results.item(0).text()
    assert first.startswith("garden.md:1-3\n    # Garden") and "<b>basil</b>" in first  # shown as typed

    time.sleep(0.01)
    (root / "garden.md").write_text("# Garden\n\nCucumbers climb.\n")
    (root / "new.txt").write_text("kites fly\n")
    page.reindex_selected()
    _wait_job(qtbot, page)
    settle()
    assert "3 files — 2 read, 1 unchanged" in page.status.text()
    page.search_edit.setText("basil")
    page.search()
    settle()
    assert page.results.item(0).text() == "No passages match."

    page.remove_selected()
    settle()
    assert page.table.rowCount() == 0 and page.status.text().startswith("Removed Notes")
    assert root.joinpath("new.txt").exists()


def test_cancel_keeps_the_files_indexed_so_far(qtbot, window, settle, tmp_path):
    from agent.knowledge.index import add_set, list_sets

    root = tmp_path / "many"
    root.mkdir()
    for n in range(20):  # 20 MB: a second or more of indexing, though the indexer does tens of MB/s
        (root / f"f{n:03}.txt").write_text(f"note {n} of many words\n" * 45_000)
    page = window.show_page("knowledge")
    add_set(window.ctx.db, "Many", root)
    page.refresh()
    settle()
    page.table.selectRow(0)
    page.reindex_selected()
    qtbot.waitUntil(lambda: page.progress_label.text().startswith("f0"), timeout=10_000)
    page.cancel_button.click()
    _wait_job(qtbot, page)
    settle()
    assert page.status.text().startswith("Cancelled")
    (item,) = list_sets(window.ctx.db)
    assert item.indexed_at is None and 0 < item.files < 20
    assert page.table.item(0, 5).text() == "never"


def test_a_bad_folder_is_said_and_nothing_added(window, settle, tmp_path):
    page = window.show_page("knowledge")
    page.name_edit.setText("Gone")
    page.folder_edit.setText(str(tmp_path / "missing"))
    page.add_button.click()
    settle()
    assert page.status.text() == f"{tmp_path / 'missing'} is not a folder"
    assert page.table.rowCount() == 0
    assert page.status.textFormat() == Qt.TextFormat.PlainText
