"""Packaging pieces that are fast enough for every run (the bundle itself is built and
smoke-tested by packaging/build.sh): the icons of every platform from the one SVG, the
desktop entry, the .deb's Depends read from a bundle's ELF files, and its Version and
Maintainer read from pyproject.toml."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"


def load_script(name: str) -> ModuleType:
    """A script of packaging/ as a module (packaging/ is no package: PyPI's `packaging`)."""
    spec = importlib.util.spec_from_file_location(f"murmur_{name}", PACKAGING / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


deb_depends = load_script("deb_depends")
make_icons = load_script("make_icons")
project_meta = load_script("project_meta")

PIL = pytest.importorskip("PIL.Image")


def test_make_icons_renders_every_size_ico_and_icns_from_the_svg(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(PACKAGING / "make_icons.py"), str(tmp_path / "icons")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    icons = tmp_path / "icons"
    for size in (16, 22, 24, 32, 48, 64, 96, 128, 256, 512, 1024):
        with PIL.open(icons / "png" / f"murmur-{size}.png") as im:
            assert im.format == "PNG"
            assert im.size == (size, size)
            rgba = im.convert("RGBA")
            # Rendered, not blank: a transparent corner (the rounded square's outside)
            # and the icon's opaque body in the middle.
            assert rgba.getpixel((0, 0))[3] == 0
            assert rgba.getpixel((size // 2, size // 2))[3] == 255
            assert rgba.getpixel((size // 4, size // 2))[3] == 255
    with PIL.open(icons / "murmur.ico") as ico:
        assert ico.format == "ICO"
        assert sorted(ico.info["sizes"]) == [(s, s) for s in make_icons.ICO_SIZES]
        ico.size = (16, 16)
        assert ico.convert("RGBA").getpixel((8, 8))[3] == 255
    with PIL.open(icons / "murmur.icns") as icns:
        assert icns.format == "ICNS"
        sizes = set(icns.info["sizes"])
        assert {(16, 16, 2), (32, 32, 2), (128, 128, 1), (512, 512, 1), (512, 512, 2)} <= sizes
        icns.size = (512, 512)
        icns.load(scale=2)
        assert icns.size == (1024, 1024)
    assert (icons / "murmur.svg").read_bytes() == make_icons.SOURCE.read_bytes()


@pytest.mark.qt_log_ignore("Cannot read file")
def test_render_png_draws_the_asked_size_and_refuses_what_is_not_svg(
    qapp: object, tmp_path: Path
) -> None:
    import io

    with PIL.open(io.BytesIO(make_icons.render_png(make_icons.SOURCE, 40))) as im:
        assert im.size == (40, 40)
        assert im.convert("RGBA").getpixel((20, 20))[3] == 255
    bad = tmp_path / "bad.svg"
    bad.write_text("not svg")
    with pytest.raises(ValueError, match="not a valid SVG"):
        make_icons.render_png(bad, 16)


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils")
def test_desktop_entry_is_valid_and_opens_audio_and_video() -> None:
    entry = PACKAGING / "murmur.desktop"
    out = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "error" not in out.stdout + out.stderr
    fields = dict(line.split("=", 1) for line in entry.read_text().splitlines() if "=" in line)
    assert fields["Exec"] == "murmur %F"
    assert fields["Icon"] == "murmur"
    mime = set(fields["MimeType"].strip(";").split(";"))
    assert {"audio/mpeg", "audio/x-wav", "audio/flac", "audio/mp4", "audio/ogg"} <= mime
    assert {"video/mp4", "video/x-matroska", "video/webm", "video/quicktime"} <= mime


needs_dpkg = pytest.mark.skipif(
    shutil.which("dpkg") is None or shutil.which("ldd") is None, reason="not a Debian system"
)


@needs_dpkg
def test_deb_depends_maps_system_libraries_to_packages(tmp_path: Path) -> None:
    """A bundle of one program that loads libX11 from the system depends on its package."""
    program = shutil.which("xdotool") or pytest.skip("xdotool is not installed")
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    shutil.copy(program, bundle / "tool")
    line = deb_depends.depends(bundle)
    items = [item.split(" ")[0] for item in line.split(", ")]
    assert "libc6" in items
    assert "libxdo3" in items  # xdotool's library
    assert line.startswith("libc6 (>= 2.") or "libc6 (>= 2." in line


@needs_dpkg
def test_deb_depends_refuses_a_bundle_that_misses_a_library(tmp_path: Path) -> None:
    """libQt6Svg without the libQt6Gui it needs: neither the bundle nor the system has it."""
    import PySide6

    qt_lib = Path(PySide6.__file__).parent / "Qt" / "lib"
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    shutil.copy(qt_lib / "libQt6Svg.so.6", bundle / "libQt6Svg.so.6")
    with pytest.raises(SystemExit, match=r"libQt6Gui\.so\.6"):
        deb_depends.depends(bundle)
    # With what it needs next to it, only system libraries remain.
    for name in (
        "libQt6Gui.so.6",
        "libQt6Core.so.6",
        "libQt6DBus.so.6",
        "libicui18n.so.73",
        "libicuuc.so.73",
        "libicudata.so.73",
    ):
        shutil.copy(qt_lib / name, bundle / name)
    assert "libc6" in deb_depends.depends(bundle)


def test_project_meta_gives_the_debs_version_and_maintainer_from_pyproject(
    tmp_path: Path,
) -> None:
    out = subprocess.run(
        [sys.executable, str(PACKAGING / "project_meta.py"), "maintainer"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert re.fullmatch(r"[^<>\n]+ <[^@<>\s]+@[^@<>\s]+\.[a-z]+>\n", out.stdout)
    assert "localhost" not in out.stdout
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nversion = "2.3.4"\n'
        'authors = [{ name = "No Mail" }, { name = "A B", email = "a@b.org" }]\n'
    )
    assert project_meta.field("version", pyproject) == "2.3.4"
    assert project_meta.field("maintainer", pyproject) == "A B <a@b.org>"  # the first with both
    pyproject.write_text('[project]\nversion = "1"\nauthors = [{ name = "No Mail" }]\n')
    with pytest.raises(SystemExit, match="no maintainer"):
        project_meta.field("maintainer", pyproject)
    with pytest.raises(SystemExit, match="unknown field"):
        project_meta.field("licence", pyproject)
