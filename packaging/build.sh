#!/usr/bin/env bash
# Build the desktop bundle in dist/Murmur/ and smoke-test it: the frozen app
# must start, import its core and transcribe with the command line.
set -euo pipefail
cd "$(dirname "$0")/.."
packaging/setup.sh
.venv/bin/python -m pip install -q -e ".[package]"
.venv/bin/pyinstaller --noconfirm --clean packaging/murmur.spec
dist/Murmur/murmur transcribe --help >/dev/null
echo "built dist/Murmur"
