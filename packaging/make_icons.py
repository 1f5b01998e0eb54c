"""Render Murmur's icon for every platform from the one SVG source (resources/murmur.svg).

    python packaging/make_icons.py OUT_DIR [--svg FILE]

writes into OUT_DIR:
- ``png/murmur-N.png`` for N in PNG_SIZES (the hicolor sizes of the Linux package, and 1024),
- ``murmur.ico`` (Windows: every size in ICO_SIZES in one file),
- ``murmur.icns`` (macOS: 16 to 1024, with the @2x variants),
- ``murmur.svg`` (the source, for hicolor's scalable folder).

The SVG is rendered by Qt's SVG renderer (PySide6, already a dependency, so this runs on
Windows and macOS build machines too); Pillow writes the .ico and .icns. Every size is
rendered from the vector source, never scaled down from a bitmap.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "resources" / "murmur.svg"
PNG_SIZES = (16, 22, 24, 32, 48, 64, 96, 128, 256, 512, 1024)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)


def render_png(svg: Path, size: int) -> bytes:
    """The SVG drawn into a transparent size x size square, as PNG bytes."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg}: not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise RuntimeError(f"could not encode the {size}px icon")
    buffer.close()
    return bytes(data.data())


def make_icons(out: Path, svg: Path = SOURCE) -> dict[str, Path]:
    """Write every icon into ``out``; returns {"png-N": path, "ico": ..., "icns": ...}."""
    from PIL import Image

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    _app = QGuiApplication.instance() or QGuiApplication([])  # QPainter needs one
    out.mkdir(parents=True, exist_ok=True)
    (out / "png").mkdir(exist_ok=True)
    written: dict[str, Path] = {}
    images: dict[int, Image.Image] = {}
    for size in PNG_SIZES:
        data = render_png(svg, size)
        path = out / "png" / f"murmur-{size}.png"
        path.write_bytes(data)
        written[f"png-{size}"] = path
        images[size] = Image.open(io.BytesIO(data)).convert("RGBA")

    # .ico: Pillow takes the sizes to write and picks the exact-size images it is given.
    ico = out / "murmur.ico"
    biggest = images[max(ICO_SIZES)]
    biggest.save(
        ico,
        format="ICO",
        sizes=[(s, s) for s in ICO_SIZES],
        append_images=[images[s] for s in ICO_SIZES if s != max(ICO_SIZES)],
    )
    written["ico"] = ico

    # .icns: Pillow writes 16..1024 (with @2x) and uses the appended image of each size.
    icns = out / "murmur.icns"
    images[1024].save(
        icns, format="ICNS", append_images=[images[s] for s in PNG_SIZES if s != 1024]
    )
    written["icns"] = icns

    shutil.copyfile(svg, out / "murmur.svg")
    written["svg"] = out / "murmur.svg"
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to write the icons into")
    parser.add_argument("--svg", type=Path, default=SOURCE, help="default: %(default)s")
    args = parser.parse_args(argv)
    for path in make_icons(args.out, args.svg).values():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
