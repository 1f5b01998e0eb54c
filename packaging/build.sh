#!/usr/bin/env bash
# Build the desktop bundle in dist/Murmur/, the Debian package dist/murmur_<version>_<arch>.deb,
# and smoke-test both (packaging/smoke_test.sh): the frozen app must transcribe real speech,
# record from a (virtual) microphone and open its window; the package must install, run and
# remove cleanly. packaging/README.md has the details, the sizes and the other platforms.
set -euo pipefail
cd "$(dirname "$0")/.."
packaging/setup.sh --test  # the smoke test speaks with espeak-ng
.venv/bin/python -m pip install -q -e ".[package]"
# The bundle freezes the venv's PySide6: it must be the pinned one (issue #16, the None leak).
.venv/bin/python - <<'EOF'
import sys, tomllib
from importlib.metadata import version
from packaging.requirements import Requirement
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
for req in map(Requirement, deps):
    if req.name == "PySide6" and (req.marker is None or req.marker.evaluate()):
        if not req.specifier.contains(version("PySide6")):
            sys.exit(f"build: PySide6 {version('PySide6')} in .venv, the pin says {req}")
EOF
.venv/bin/pyinstaller --noconfirm --clean packaging/murmur.spec
deb=$(packaging/make_deb.sh)
packaging/smoke_test.sh
echo "built dist/Murmur ($(du -sh dist/Murmur | cut -f1)) and $deb ($(du -h "$deb" | cut -f1))"
