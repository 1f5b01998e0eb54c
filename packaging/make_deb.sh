#!/usr/bin/env bash
# Build dist/murmur_<version>_<arch>.deb from the one-folder bundle dist/Murmur
# (packaging/build.sh runs it after PyInstaller). The package holds:
#   /opt/murmur/                    the bundle as built
#   /usr/bin/murmur                 a link to /opt/murmur/murmur (the command and the window)
#   /usr/share/applications/murmur.desktop      "Open with Murmur" for audio and video
#   /usr/share/icons/hicolor/NxN/apps/murmur.png, scalable/apps/murmur.svg
#   /usr/share/doc/murmur/copyright
# Depends: what the bundle loads from the system (packaging/deb_depends.py), plus the
# packages whose data files bundled libraries read (see `data_depends` below).
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=dist/Murmur
[[ -x $bundle/murmur ]] || { echo "make_deb: build $bundle first (packaging/build.sh)" >&2; exit 1; }

version=$(.venv/bin/python packaging/project_meta.py version)
maintainer=$(.venv/bin/python packaging/project_meta.py maintainer)  # pyproject's maintainers
arch=$(dpkg --print-architecture)
deb=dist/murmur_${version}_${arch}.deb
root=build/deb/murmur_${version}_${arch}
[[ -f build/icons/png/murmur-16.png ]] || .venv/bin/python packaging/make_icons.py build/icons >/dev/null

rm -rf "$root"
mkdir -p "$root/DEBIAN" "$root/opt" "$root/usr/bin" "$root/usr/share/applications" \
         "$root/usr/share/doc/murmur" "$root/usr/share/icons/hicolor/scalable/apps"
cp -a "$bundle" "$root/opt/murmur"
ln -s /opt/murmur/murmur "$root/usr/bin/murmur"
install -m 644 packaging/murmur.desktop "$root/usr/share/applications/murmur.desktop"
for size in 16 22 24 32 48 64 96 128 256 512; do
  install -D -m 644 "build/icons/png/murmur-$size.png" \
          "$root/usr/share/icons/hicolor/${size}x${size}/apps/murmur.png"
done
install -m 644 resources/murmur.svg "$root/usr/share/icons/hicolor/scalable/apps/murmur.svg"
cat > "$root/usr/share/doc/murmur/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: Murmur
Upstream-Contact: $maintainer
License: Apache-2.0

Files: *
License: Apache-2.0
 On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.
 The bundle in /opt/murmur also holds Python, PyTorch, Qt (LGPLv3), FFmpeg and other
 libraries under their own licences; see the *.dist-info folders in /opt/murmur/_internal.
EOF

# The bundle carries its own copies of ALSA, PortAudio, PulseAudio's client, fontconfig,
# libX11/xcb-cursor and the rest (ldd finds them inside it), but the bundled libasound
# reads the system's ALSA configuration (/usr/share/alsa, through libasound2's data
# package) and the bundled fontconfig the system's font configuration (/etc/fonts).
data_depends="libasound2, libfontconfig1"
depends="$(.venv/bin/python packaging/deb_depends.py "$bundle"), $data_depends"
installed_kb=$(du -sk --apparent-size "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<EOF
Package: murmur
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_kb
Depends: $depends
Recommends: libasound2-plugins, ca-certificates
Section: sound
Priority: optional
Description: speech to text and subtitles, on this computer
 Murmur transcribes audio and video files to subtitles and text with the
 GLM-ASR model, records from the microphone and dictates into other
 applications. Everything runs locally; the model is downloaded once.
 .
 libasound2-plugins lets the microphone reach PulseAudio or PipeWire;
 ca-certificates is for the one-time model download.
EOF
# The desktop's caches (MIME handlers, icons) are refreshed where they exist, as on any
# desktop. Where they don't, GLib and the icon themes read the files themselves, and the
# package leaves no new cache behind.
for script in postinst postrm; do
  cat > "$root/DEBIAN/$script" <<'EOF'
#!/bin/sh
set -e
if [ -f /usr/share/applications/mimeinfo.cache ] && command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database -q /usr/share/applications || true
fi
if [ -f /usr/share/icons/hicolor/icon-theme.cache ] && command -v gtk-update-icon-cache >/dev/null 2>&1; then
    gtk-update-icon-cache -q -t -f /usr/share/icons/hicolor || true
fi
exit 0
EOF
  chmod 755 "$root/DEBIAN/$script"
done

mkdir -p dist
dpkg-deb --root-owner-group -Zzstd -z9 --build "$root" "$deb" >/dev/null
rm -rf "$root"
echo "$deb"
