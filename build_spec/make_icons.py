"""Generate every platform's app icon from the one SVG source: PNGs, a Windows .ico and a macOS .icns.

    python build_spec/make_icons.py [--out DIR]     (default: build_spec/icon/generated)

Qt's SVG renderer does the rasterising (PySide6 is a runtime dependency anyway). The two container
formats are written here: both simply hold PNG images, which every supported Windows (Vista+) and
macOS (10.7+) reads, so no imaging library is needed.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "desktop" / "assets" / "mirari.svg"  # the one icon source, shipped with the app
DEFAULT_OUT = HERE / "icon" / "generated"

PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512, 1024)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# ICNS chunk types that hold a PNG of the given pixel size.
ICNS_TYPES = ((b"icp4", 16), (b"icp5", 32), (b"icp6", 64), (b"ic07", 128),
              (b"ic08", 256), (b"ic09", 512), (b"ic10", 1024))


def render_png(svg: Path, size: int) -> bytes:
    """Rasterise the SVG to a square PNG of `size` pixels (antialiased, transparent background)."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"make_icons: {svg} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise SystemExit(f"make_icons: could not encode a {size}px PNG")
    buffer.close()
    return bytes(data.data())


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """A .ico whose entries are PNG images (ICONDIR, then one 16-byte ICONDIRENTRY per image)."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries, blobs = b"", b""
    for size in sizes:
        blob = pngs[size]
        dim = 0 if size >= 256 else size  # 0 means 256 in the ICO header
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(blob), offset)
        blobs += blob
        offset += len(blob)
    return header + entries + blobs


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """An .icns: the 'icns' magic and total length, then (type, length incl. 8-byte header, PNG) chunks."""
    chunks = b"".join(kind + struct.pack(">I", len(pngs[size]) + 8) + pngs[size] for kind, size in ICNS_TYPES)
    return b"icns" + struct.pack(">I", len(chunks) + 8) + chunks


def write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    args = parser.parse_args(argv)

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # no display needed to rasterise
    from PySide6.QtGui import QGuiApplication

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    args.out.mkdir(parents=True, exist_ok=True)
    pngs = {size: render_png(SOURCE, size) for size in PNG_SIZES}
    for size, blob in pngs.items():
        write_atomically(args.out / f"mirari-{size}.png", blob)
    write_atomically(args.out / "mirari.ico", ico_bytes({s: pngs[s] for s in ICO_SIZES}))
    write_atomically(args.out / "mirari.icns", icns_bytes(pngs))
    print(f"make_icons: {len(pngs)} PNGs, mirari.ico, mirari.icns -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
