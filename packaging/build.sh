#!/usr/bin/env bash
# Build the desktop bundle in dist/Murmur/ and smoke-test it (packaging/smoke_test.sh):
# the frozen app must transcribe real speech from the command line and open its window.
set -euo pipefail
cd "$(dirname "$0")/.."
packaging/setup.sh --test  # the smoke test speaks with espeak-ng
.venv/bin/python -m pip install -q -e ".[package]"
.venv/bin/pyinstaller --noconfirm --clean packaging/murmur.spec
packaging/smoke_test.sh
echo "built dist/Murmur"
