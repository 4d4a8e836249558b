"""A lint over desktop/: no widget that takes data can show it as Qt rich text.

Qt shows a string as HTML when it looks like HTML (labels, message boxes, tooltips, form labels,
input dialogs), and rich text loads the files it names. So every such sink in desktop/ must go
through desktop/safe_text.py: `Label` instead of QLabel, `ask`/`inform`/`warn`/`message_box` instead
of QMessageBox, `tip()` for any tooltip that is not a constant, `SafeDocument`/`SafeTextBrowser`
instead of QTextDocument/QTextBrowser/QTextEdit, and `Html` values built only from constant markup.
A new sink that bypasses them fails here with the file, the line and the rule.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DESKTOP = Path(__file__).resolve().parents[2] / "desktop"
HOME = DESKTOP / "safe_text.py"  # the one module allowed to touch the raw Qt sinks
SAMPLE = DESKTOP / "pages" / "sample.py"  # a made-up file name for the rule tests below

# Constructing these shows text with Qt's guess (AutoText) or loads resources: use safe_text instead.
FORBIDDEN_CLASSES = {
    "QLabel": "use safe_text.Label (plain) or HtmlLabel (Html only)",
    "QMessageBox": "use safe_text.ask / inform / warn / message_box (plain text)",
    "QTextDocument": "use safe_text.SafeDocument (loads no resource)",
    "QTextBrowser": "use safe_text.SafeTextBrowser (loads no resource, follows no link)",
    "QTextEdit": "use QPlainTextEdit, or SafeTextBrowser for formatted read-only text",
    "QProgressDialog": "its label guesses rich text: show progress in a Label",
    "QErrorMessage": "rich text by design: use safe_text.warn",
    "QGraphicsTextItem": "takes HTML: draw plain text",
    "QInputDialog": "use the static getters with a constant label",
}
MESSAGE_BOX_STATICS = {"question", "warning", "information", "critical", "about"}
TIP_SETTERS = {"setToolTip", "setStatusTip", "setWhatsThis", "setTabToolTip", "setItemToolTip"}
CONSTANT_LABEL_CALLS = {  # (method, index of the label argument): Qt makes an AutoText label of it
    "getText": 2, "getItem": 2, "getInt": 2, "getDouble": 2, "getMultiLineText": 2,
}


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _is_constant_text(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, str))


def _is_tip(node: ast.AST) -> bool:
    if _is_constant_text(node):
        return True
    if isinstance(node, ast.IfExp):
        return _is_tip(node.body) and _is_tip(node.orelse)
    return isinstance(node, ast.Call) and _name(node.func) == "tip"


def _mentions_tooltip_role(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Attribute) and n.attr == "ToolTipRole" for n in ast.walk(node))


def violations_in(path: Path, source: str | None = None) -> list[str]:
    source = path.read_text(encoding="utf-8") if source is None else source
    tree = ast.parse(source, filename=str(path))
    found: list[str] = []

    def bad(node: ast.AST, rule: str) -> None:
        found.append(f"{path.relative_to(DESKTOP.parent)}:{node.lineno}: {rule}")

    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                if _name(base) in FORBIDDEN_CLASSES:
                    bad(node, f"subclass of {_name(base)}: {FORBIDDEN_CLASSES[_name(base)]}")
        elif isinstance(node, ast.If) and _mentions_tooltip_role(node.test):
            # A model's tooltip: every value returned for ToolTipRole is a constant or tip(...).
            for inner in ast.walk(ast.Module(body=node.body, type_ignores=[])):
                if isinstance(inner, ast.Return) and inner.value is not None and not _is_tip(inner.value):
                    bad(inner, "a ToolTipRole value that is not a constant must be tip(...)")
        if not isinstance(node, ast.Call):
            continue
        func, name = node.func, _name(node.func)
        if isinstance(func, ast.Name) and name in FORBIDDEN_CLASSES:
            bad(node, f"{name}(...): {FORBIDDEN_CLASSES[name]}")
        elif isinstance(func, ast.Attribute) and _name(func.value) == "QMessageBox" and name in MESSAGE_BOX_STATICS:
            bad(node, f"QMessageBox.{name} guesses rich text: use safe_text.ask / inform / warn")
        elif isinstance(func, ast.Attribute) and _name(func.value) == "QInputDialog" and name in CONSTANT_LABEL_CALLS:
            index = CONSTANT_LABEL_CALLS[name]
            if len(node.args) > index and not _is_constant_text(node.args[index]):
                bad(node, f"QInputDialog.{name}: its label guesses rich text, so it must be a constant")
        elif name in TIP_SETTERS:
            if node.args and not _is_tip(node.args[-1]):
                bad(node, f"{name} with data: wrap the text in safe_text.tip(...)")
        elif name == "showText" and _name(func.value if isinstance(func, ast.Attribute) else func) == "QToolTip":
            if len(node.args) > 1 and not _is_tip(node.args[1]):
                bad(node, "QToolTip.showText with data: wrap the text in safe_text.tip(...)")
        elif name in ("setItemData", "setData") and any(_mentions_tooltip_role(a) for a in node.args):
            value = node.args[1] if name == "setItemData" else node.args[-1]
            if name == "setData" and _mentions_tooltip_role(node.args[-1]):
                value = node.args[-2] if len(node.args) > 1 else node.args[-1]
            if not _is_tip(value):
                bad(node, f"{name} of a ToolTipRole with data: wrap the text in safe_text.tip(...)")
        elif name == "setTextFormat":
            bad(node, "setTextFormat: a Label is plain, an HtmlLabel rich; nothing else chooses")
        elif name in ("insertHtml", "setInformativeText", "setDetailedText") and node.args \
                and not _is_constant_text(node.args[0]):
            bad(node, f"{name} with data guesses or takes rich text: build the text in safe_text")
        elif name == "setMarkdown" and path.name != "markdown_render.py":
            bad(node, "setMarkdown outside widgets/markdown_render.py (Markdown renders there: no HTML, no resources)")
        elif name == "addRow" and len(node.args) == 2 and not (
                _is_constant_text(node.args[0]) or isinstance(node.args[0], ast.Call)):
            bad(node, "QFormLayout.addRow(text, …) makes an AutoText label: a constant, or Label(text)")
        elif name == "Html" and isinstance(func, ast.Name) and not (
                len(node.args) == 1 and _is_constant_text(node.args[0])):
            bad(node, "Html(...) of anything but a constant: data goes in through .format / + / .join")
    return found


def _sources() -> list[Path]:
    return sorted(p for p in DESKTOP.rglob("*.py") if p != HOME)


def test_no_widget_in_desktop_can_show_data_as_rich_text():
    problems = [line for path in _sources() for line in violations_in(path)]
    assert not problems, "rich-text sinks outside desktop/safe_text.py:\n" + "\n".join(problems)


@pytest.mark.parametrize("source, rule", [
    ("w = QLabel(name)", "QLabel(...)"),
    ("class Tag(QLabel):\n    pass", "subclass of QLabel"),
    ("QMessageBox.question(self, 'Delete', f'Delete {title}?')", "QMessageBox.question"),
    ("box = QMessageBox()", "QMessageBox(...)"),
    ("item.setToolTip(title)", "setToolTip with data"),
    ("item.setToolTip(0, f'template {tid}')", "setToolTip with data"),
    ("combo.setItemData(0, status, Qt.ItemDataRole.ToolTipRole)", "setItemData of a ToolTipRole"),
    ("def data(self, index, role):\n    if role == Qt.ItemDataRole.ToolTipRole:\n        return row.text",
     "ToolTipRole value"),
    ("QToolTip.showText(pos, text, self)", "QToolTip.showText"),
    ("d = QTextDocument()", "QTextDocument(...)"),
    ("v = QTextBrowser()", "QTextBrowser(...)"),
    ("label.setTextFormat(Qt.TextFormat.AutoText)", "setTextFormat"),
    ("QInputDialog.getText(self, 'Rename', f'New name for {title}')", "QInputDialog.getText"),
    ("form.addRow(name, edit)", "addRow"),
    ("doc.setMarkdown(text)", "setMarkdown"),
    ("h = Html(f'<b>{name}</b>')", "Html(...)"),
])
def test_the_lint_catches_each_kind_of_sink(source, rule):
    """Each rule fires on a sample of the mistake it exists for (so the lint above cannot pass vacuously)."""
    found = violations_in(SAMPLE, source)
    assert any(rule in line for line in found), found


@pytest.mark.parametrize("source", [
    "w = Label(name)",
    "item.setToolTip(tip(title))",
    "button.setToolTip('Send it again')",
    "combo.setItemData(0, tip(status), Qt.ItemDataRole.ToolTipRole)",
    "def data(self, index, role):\n    if role == Qt.ItemDataRole.ToolTipRole:\n        return tip(row.text)",
    "form.addRow('Name', edit)",
    "h = Html('<b>{}</b>').format(name)",
    "QInputDialog.getText(self, 'Rename thread', 'Title:', text=title)",
])
def test_the_lint_accepts_the_safe_forms(source):
    assert violations_in(SAMPLE, source) == []
