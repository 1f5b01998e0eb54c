#!/usr/bin/env bash
# Set up Murmur on this machine: system libraries (Debian/Ubuntu), a virtual
# environment in .venv, and the app itself. Safe to run again; it only does
# what is missing. `--test` also installs what the test suite needs.
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=0
[[ "${1:-}" == "--test" ]] && with_tests=1

# Runtime: FFmpeg for odd containers, PortAudio for the microphone, and the
# X11/EGL libraries that Qt's xcb platform plugin loads.
pkgs=(ffmpeg libportaudio2 libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0
      libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-shape0
      libxcb-xkb1 libfontconfig1 libdbus-1-3 libglib2.0-0)
# Tests: real speech (espeak-ng, sox), a virtual display and screenshots.
(( with_tests )) && pkgs+=(espeak-ng sox xvfb imagemagick pulseaudio libasound2-plugins)

if command -v apt-get >/dev/null 2>&1; then
  missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if (( ${#missing[@]} )); then
    sudo=""; [[ $(id -u) != 0 ]] && sudo="sudo"
    echo "Installing system packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "Not a Debian/Ubuntu system: make sure FFmpeg and PortAudio are installed." >&2
fi

python=""
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1 &&
     "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    python=$candidate; break
  fi
done
[[ -n "$python" ]] || { echo "Murmur needs Python 3.11 or newer." >&2; exit 1; }

[[ -x .venv/bin/python ]] || "$python" -m venv .venv

extras=""; (( with_tests )) && extras="[test]"
stamp=".venv/.murmur-installed$extras"
if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" ]]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # torch is pinned so that pip takes the known build (CUDA on Linux from PyPI,
  # or the CPU build where one is provided locally).
  .venv/bin/python -m pip install -q "torch==2.13.0" -e ".$extras"
  # Speaker detection's voice encoder weights ship in the resemblyzer wheel. It is
  # installed without its dependencies (webrtcvad needs a compiler, librosa is
  # heavy): Murmur loads the weights itself (app/core/speakers/encoder.py).
  .venv/bin/python -m pip install -q --no-deps "resemblyzer==0.1.4"
  touch "$stamp"
fi
