"""Render resources/icons/seglab.svg into the icons the installers need (run again after the SVG changes):
installer/linux/seglab.png (256 px), installer/windows/seglab.ico and installer/macos/seglab.icns.

    QT_QPA_PLATFORM=offscreen python installer/make_icons.py

Qt's QSvgRenderer (PySide6-Essentials' QtSvg) draws the SVG; Pillow writes the ICO and ICNS containers.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SVG = ROOT / "resources" / "icons" / "seglab.svg"
PNG = ROOT / "installer" / "linux" / "seglab.png"
ICO = ROOT / "installer" / "windows" / "seglab.ico"
ICNS = ROOT / "installer" / "macos" / "seglab.icns"
ICO_SIZES = [(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)]


def render_svg(svg: Path, size: int):
    """The SVG drawn on a transparent size x size canvas, as a Pillow RGBA image."""
    from PIL import Image
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg} is not a valid SVG file")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return Image.open(io.BytesIO(bytes(data))).convert("RGBA")


def main() -> int:
    for target in (PNG, ICO, ICNS):
        target.parent.mkdir(parents=True, exist_ok=True)
    render_svg(SVG, 256).save(PNG)
    render_svg(SVG, 256).save(ICO, sizes=ICO_SIZES)
    render_svg(SVG, 1024).save(ICNS)
    for target in (PNG, ICO, ICNS):
        print(f"wrote {target.relative_to(ROOT)} ({target.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
