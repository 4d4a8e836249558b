"""Light and dark palettes plus a small style sheet; "system" follows the OS colour scheme.

The transcript delegate paints with the same `Colors`, so the chat and the chrome always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

THEME_CHOICES = ("system", "light", "dark")


@dataclass(frozen=True)
class Colors:
    dark: bool
    window: str
    panel: str
    sidebar: str
    text: str
    muted: str
    accent: str
    accent_text: str
    border: str
    user_bubble: str
    assistant_bubble: str
    code_bg: str
    code_border: str
    error: str
    online: str
    offline: str
    selection: str
    pygments_style: str


LIGHT = Colors(
    dark=False, window="#f7f7f5", panel="#ffffff", sidebar="#efefec", text="#1f1f23", muted="#6d6d74",
    accent="#5147d9", accent_text="#ffffff", border="#dcdcd8", user_bubble="#ecebfb",
    assistant_bubble="#ffffff", code_bg="#f4f4f1", code_border="#e1e1dc", error="#c4372d",
    online="#23915a", offline="#8d8d93", selection="#d9d6fb", pygments_style="friendly",
)
DARK = Colors(
    dark=True, window="#17181c", panel="#1f2025", sidebar="#131417", text="#e7e7ea", muted="#9c9ca5",
    accent="#8e88ff", accent_text="#111114", border="#2e2f36", user_bubble="#2a2950",
    assistant_bubble="#1f2025", code_bg="#121317", code_border="#2c2d34", error="#ff7b72",
    online="#4fd08f", offline="#8d8d96", selection="#3b3873", pygments_style="one-dark",
)

_current: Colors = LIGHT


def colors() -> Colors:
    return _current


def os_prefers_dark() -> bool:
    hints = QGuiApplication.styleHints()
    return hints.colorScheme() == Qt.ColorScheme.Dark


def resolve(choice: str) -> Colors:
    if choice == "dark":
        return DARK
    if choice == "light":
        return LIGHT
    return DARK if os_prefers_dark() else LIGHT


def _palette(c: Colors) -> QPalette:
    p = QPalette()
    role = QPalette.ColorRole
    for r, value in (
        (role.Window, c.window), (role.WindowText, c.text), (role.Base, c.panel),
        (role.AlternateBase, c.window), (role.Text, c.text), (role.Button, c.panel),
        (role.ButtonText, c.text), (role.ToolTipBase, c.panel), (role.ToolTipText, c.text),
        (role.Highlight, c.accent), (role.HighlightedText, c.accent_text), (role.Link, c.accent),
        (role.PlaceholderText, c.muted), (role.Mid, c.border), (role.Midlight, c.border),
    ):
        p.setColor(r, QColor(value))
    for r in (role.Text, role.WindowText, role.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, r, QColor(c.muted))
    return p


def _asset(name: str) -> str:
    return (Path(__file__).parent / "assets" / name).as_posix()


def _stylesheet(c: Colors) -> str:
    return f"""
    QWidget#Sidebar {{ background: {c.sidebar}; border-right: 1px solid {c.border}; }}
    QLabel#Brand {{ font-size: 15px; font-weight: 700; letter-spacing: 3px; padding: 14px 16px 10px 16px; }}
    QListWidget#Nav {{ background: transparent; border: 1px solid transparent; border-radius: 8px; font-size: 13px;
        outline: 0; margin: 0 4px; }}
    QListWidget#Nav::item {{ padding: 8px 12px; margin: 1px 3px; border-radius: 6px; }}
    QListWidget#Nav::item:selected {{ background: {c.selection}; color: {c.text}; }}
    QListWidget#Nav::item:hover:!selected {{ background: {c.border}; }}
    QLabel#PageTitle {{ font-size: 18px; font-weight: 600; }}
    QLabel#SectionTitle {{ font-size: 14px; font-weight: 600; }}
    QTableView {{ background: {c.panel}; border: 1px solid {c.border}; border-radius: 8px; outline: 0;
        selection-background-color: {c.selection}; selection-color: {c.text}; }}
    QTableView::item {{ padding: 4px 6px; border-bottom: 1px solid {c.window}; }}
    QHeaderView::section {{ background: {c.panel}; color: {c.muted}; border: none;
        border-bottom: 1px solid {c.border}; padding: 5px 6px; font-weight: 600; }}
    QCheckBox::indicator, QListWidget::indicator {{ width: 13px; height: 13px; border: 1px solid {c.muted}; border-radius: 3px;
        background: {c.panel}; }}
    QCheckBox::indicator:checked, QListWidget::indicator:checked {{ background: {c.accent}; border-color: {c.accent}; }}
    QListWidget#MirrorThreads::item {{ padding: 5px 4px; }}
    QPlainTextEdit#AgentView {{ font-family: monospace; background: {c.code_bg}; border-color: {c.code_border}; }}
    QLabel#Muted, QLabel[muted="true"] {{ color: {c.muted}; }}
    QLabel#Error {{ color: {c.error}; }}
    QLineEdit, QPlainTextEdit, QComboBox {{
        background: {c.panel}; border: 1px solid {c.border}; border-radius: 6px; padding: 5px 7px;
        selection-background-color: {c.accent}; selection-color: {c.accent_text}; }}
    QLineEdit:focus, QPlainTextEdit:focus {{ border: 1px solid {c.accent}; }}
    QLineEdit[invalid="true"] {{ border: 1px solid {c.error}; }}
    QPushButton {{ background: {c.panel}; border: 1px solid {c.border}; border-radius: 6px; padding: 5px 12px; }}
    QPushButton:hover {{ border-color: {c.accent}; }}
    QPushButton:disabled {{ color: {c.muted}; }}
    QPushButton[primary="true"] {{ background: {c.accent}; color: {c.accent_text}; border: 1px solid {c.accent}; font-weight: 600; }}
    QPushButton[primary="true"]:disabled {{ background: {c.border}; border-color: {c.border}; color: {c.muted}; }}
    QListView, QListWidget {{ background: {c.panel}; border: 1px solid {c.border}; border-radius: 8px; }}
    QTreeView {{ background: {c.panel}; border: 1px solid {c.border}; border-radius: 8px; }}
    QTreeView::item {{ padding: 3px 2px; }}
    QTreeView::item:selected {{ background: {c.selection}; color: {c.text}; }}
    QListWidget#SkillCases::item:selected {{ background: {c.selection}; color: {c.text}; }}
    QHeaderView::section {{ background: {c.panel}; color: {c.muted}; border: none;
        border-bottom: 1px solid {c.border}; padding: 4px 6px; }}
    QProgressBar {{ background: {c.panel}; border: 1px solid {c.border}; border-radius: 6px; text-align: center;
        height: 18px; }}
    QProgressBar::chunk {{ background: {c.selection}; border-radius: 5px; }}
    QListView#Transcript {{ background: {c.window}; border: 1px solid transparent; border-radius: 8px; }}
    QListView#Threads {{ background: transparent; border: 1px solid transparent; border-radius: 8px; }}
    QListWidget#TaskList {{ background: transparent; border: 1px solid transparent; border-radius: 6px; }}
    QScrollArea#PageScroll {{ background: transparent; border: 1px solid transparent; border-radius: 8px; }}
    QListView#Threads::item {{ padding: 6px 8px; border-radius: 6px; }}
    QListView#Threads::item:selected {{ background: {c.selection}; color: {c.text}; }}
    QFrame#Card {{ background: {c.panel}; border: 1px solid {c.border}; border-radius: 10px; }}
    QComboBox::drop-down {{ border: none; width: 22px; }}
    QComboBox::down-arrow {{ image: url({_asset("arrow-dark.svg" if c.dark else "arrow-light.svg")}); width: 10px; height: 6px; }}
    QComboBox QAbstractItemView {{ background: {c.panel}; border: 1px solid {c.border};
        selection-background-color: {c.selection}; selection-color: {c.text}; }}
    QToolButton {{ background: {c.panel}; border: 1px solid {c.border}; border-radius: 6px; padding: 5px 12px; }}
    QToolButton:hover {{ border-color: {c.accent}; }}
    QToolButton::menu-indicator {{ image: none; width: 0; }}
    QScrollBar:vertical {{ background: transparent; width: 10px; margin: 2px; }}
    QScrollBar::handle:vertical {{ background: {c.border}; border-radius: 3px; min-height: 28px; }}
    QScrollBar::handle:vertical:hover {{ background: {c.muted}; }}
    QScrollBar::add-line, QScrollBar::sub-line {{ height: 0; width: 0; }}
    QScrollBar::add-page, QScrollBar::sub-page {{ background: transparent; }}
    QMenu {{ background: {c.panel}; border: 1px solid {c.border}; padding: 4px; }}
    QMenu::item {{ padding: 5px 18px; border-radius: 4px; }}
    QMenu::item:selected {{ background: {c.selection}; color: {c.text}; }}
    QStatusBar {{ color: {c.muted}; }}
    QToolButton#SyncChip, QToolButton#AccountButton {{ background: transparent; border: 1px solid transparent;
        border-radius: 11px; padding: 3px 9px; }}
    QToolButton#AccountButton {{ padding: 3px 4px; }}
    QToolButton#SyncChip {{ background: {c.panel}; border-color: {c.border}; }}
    QToolButton#SyncChip:hover, QToolButton#AccountButton:hover {{ border-color: {c.accent}; }}
    QToolButton#SyncChip[tone="ok"] {{ color: {c.online}; }}
    QToolButton#SyncChip[tone="busy"] {{ color: {c.accent}; }}
    QToolButton#SyncChip[tone="off"] {{ color: {c.muted}; }}
    QToolButton#SyncChip[tone="warn"], QToolButton#SyncChip[tone="error"] {{ color: {c.error}; border-color: {c.error}; }}
    QToolButton#SyncNow {{ background: transparent; border: 1px solid transparent; border-radius: 11px; padding: 3px 4px; }}
    QToolButton#SyncNow:hover {{ border-color: {c.accent}; }}
    QToolButton#JobsIndicator {{ background: transparent; border: none; padding: 1px 6px; color: {c.muted}; }}
    QFrame#JobsPanel, QDialog#SyncPanel QFrame#Card {{ background: {c.panel}; border: 1px solid {c.border}; }}
    QToolTip {{ background: {c.panel}; color: {c.text}; border: 1px solid {c.border}; }}
    {_focus_rules(c)}"""


def _focus_rules(c: Colors) -> str:
    """Keyboard focus is always visible: every control that takes Tab shows it, in both themes. Last in
    the sheet, so on a tie these win; a control whose look names its id gets a rule naming it too.
    Buttons and combo boxes trade one pixel of padding for the second pixel of ring (no size jump);
    views keep the same border width focused or not (a wider border would re-lay the transcript)."""
    return f"""
    QPushButton:focus, QToolButton:focus {{ border: 2px solid {c.accent}; padding: 4px 11px; }}
    QPushButton[primary="true"]:focus {{ border: 2px solid {c.text}; padding: 4px 11px; }}
    QComboBox:focus {{ border: 2px solid {c.accent}; padding: 4px 6px; }}
    QToolButton#SyncChip:focus, QToolButton#AccountButton:focus, QToolButton#SyncNow:focus,
    QToolButton#JobsIndicator:focus {{ border: 1px solid {c.accent}; }}
    QLineEdit:focus, QPlainTextEdit:focus, QPlainTextEdit#AgentView:focus {{ border: 1px solid {c.accent}; }}
    QListView:focus, QListWidget:focus, QTreeView:focus, QTableView:focus, QScrollArea:focus,
    QListWidget#Nav:focus, QListView#Threads:focus, QListView#Transcript:focus,
    QListWidget#TaskList:focus, QScrollArea#PageScroll:focus {{ border: 1px solid {c.accent}; }}
    QCheckBox:focus {{ background: {c.selection}; border-radius: 4px; }}
    QTabBar::tab:focus {{ color: {c.accent}; text-decoration: underline; }}
    """


def apply_theme(app: QApplication, choice: str) -> Colors:
    """Apply `choice` ("system" | "light" | "dark") to the whole app and return the colours in use."""
    global _current
    if choice not in THEME_CHOICES:
        choice = "system"
    _current = resolve(choice)
    app.setStyle("Fusion")  # the same widgets on every OS, so both palettes are fully honoured
    app.setPalette(_palette(_current))
    app.setStyleSheet(_stylesheet(_current))
    # Colours baked into icons and per-widget style sheets do not follow the palette: tell the views
    # (whichever path switched — Settings or the OS scheme), so they redraw them now.
    from desktop.bus import bus

    bus.theme_changed.emit(_current)
    return _current
