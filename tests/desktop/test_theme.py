"""A theme switch repaints everything in the new colours at once, including the colours that were
baked in when a widget was filled (connection icons in the Console, the Bind status line)."""

from PySide6.QtGui import QColor

from desktop import theme
from local_schema.models import ConnectionCheck
from standin.demo.seed import add_connection


def _icon_colour(combo, i=0) -> str:
    image = combo.itemIcon(i).pixmap(12, 12).toImage()
    return image.pixelColor(6, 6).name()  # the centre of the filled "online" dot


def _has_pixel(widget, colour: str) -> bool:
    image = widget.grab().toImage()
    want = QColor(colour)
    return any(image.pixelColor(x, y).rgb() == want.rgb()
               for x in range(image.width()) for y in range(image.height()))


def test_a_theme_switch_recolours_connection_icons_and_the_bind_status_at_once(qtbot, window, settle):
    settings = window.pages["settings"]
    settings.theme_combo.setCurrentIndex(settings.theme_combo.findData("light"))
    cid = add_connection(window.ctx.db, "Local", "http://127.0.0.1:9/v1", "m", status="online")
    with window.ctx.db.session() as s:  # a check was made (an untested connection shows no status colour)
        s.add(ConnectionCheck(connection_id=cid, status="online"))
        s.commit()
    console, bind = window.pages["console"], window.pages["bind"]
    console.refresh_connections()
    bind.refresh(select=cid)
    settle()
    window.show_page("bind")
    assert bind.status.status == "online"
    assert _icon_colour(console.connection_combo) == theme.LIGHT.online
    assert _has_pixel(bind.status.glyph, theme.LIGHT.online)

    window.show_page("settings")
    settings.theme_combo.setCurrentIndex(settings.theme_combo.findData("dark"))
    window.show_page("bind")
    # no reload of the connections in between: the switch alone must recolour them
    assert _icon_colour(console.connection_combo) == theme.DARK.online
    assert _has_pixel(bind.status.glyph, theme.DARK.online)
    assert not _has_pixel(bind.status.glyph, theme.LIGHT.online)
