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
# pynput (the dictation shortcut and keystrokes) needs evdev on Linux, which PyPI has only
# as source: a C compiler, the kernel's input headers and Python's headers build it.
pkgs+=(gcc linux-libc-dev python3-dev)
# Tests: real speech (espeak-ng, sox), a virtual display and screenshots.
# Dictation tests: another X client takes the focus and the keys (xdotool), the clipboard
# is read back (xclip). Packaging: the desktop entry is validated (desktop-file-utils), and
# the bundle is stripped and its libraries read (binutils: strip, readelf).
(( with_tests )) && pkgs+=(espeak-ng sox xvfb imagemagick pulseaudio pulseaudio-utils libasound2-plugins libportaudio2
                          xdotool xclip desktop-file-utils binutils)

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

# Python: the newest >= 3.11 that actually runs (a pyenv shim may be on PATH and fail to
# run) and for which the pinned torch can be installed. A build provided on this machine
# (pip's find-links, e.g. the CPU build) wins over a newer Python that would download
# torch from the index (the CUDA build on Linux, several GB); then the newest with any
# wheel. MURMUR_PYTHON=/path/to/python forces one.
TORCH="torch==2.13.0"
runs() {  # prints the version of a Python >= 3.11 that runs and can make a venv
  "$1" -c 'import sys, venv, ensurepip
if sys.version_info < (3, 11): sys.exit(1)
print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null
}
torch_source() {  # local | index | none: where the venv's pip would take torch for Python $1
  local report
  report=$(.venv/bin/python -m pip install -q --dry-run --no-deps --only-binary=:all: \
           --python-version "$1" --target "$(mktemp -d)" --report - "$TORCH" 2>/dev/null) || {
    echo none; return; }
  .venv/bin/python -c 'import json, sys
url = json.loads(sys.stdin.read())["install"][0]["download_info"]["url"]
print("local" if url.startswith("file:") else "index")' <<<"$report" 2>/dev/null || echo none
}
if [[ -x .venv/bin/python ]]; then
  echo "Python: using the existing .venv ($(.venv/bin/python -c 'import platform; print(platform.python_version())'))."
else
  read -r -a candidates <<<"${MURMUR_PYTHON:-python3.14 python3.13 python3.12 python3.11 python3}"
  names=(); versions=()
  for c in "${candidates[@]}"; do
    command -v "$c" >/dev/null 2>&1 || continue
    if v=$(runs "$c"); then
      names+=("$c"); versions+=("$v")
    else
      echo "Python: skipped $c (does not run, or is older than 3.11)"
    fi
  done
  (( ${#names[@]} )) || { echo "Murmur needs Python 3.11 or newer." >&2; exit 1; }
  "${names[0]}" -m venv .venv  # a pip to ask with
  chosen=-1; fallback=-1
  for i in "${!names[@]}"; do
    source=$(torch_source "${versions[$i]%.*}")
    case "$source" in
      local) chosen=$i; break ;;
      index) (( fallback >= 0 )) || fallback=$i
             echo "Python: ${names[$i]} ${versions[$i]} would download $TORCH from the index" ;;
      *) echo "Python: skipped ${names[$i]} ${versions[$i]} (no $TORCH wheel for it)" ;;
    esac
  done
  why="the newest that runs and has $TORCH on this machine"
  if (( chosen < 0 )); then
    chosen=$fallback why="the newest that runs and has $TORCH (from the index)"
  fi
  (( chosen >= 0 )) || { rm -rf .venv; echo "Murmur needs Python 3.11 or newer with a $TORCH wheel." >&2; exit 1; }
  if (( chosen > 0 )); then
    rm -rf .venv && "${names[$chosen]}" -m venv .venv
  fi
  echo "Python: using ${names[$chosen]} ${versions[$chosen]} ($(command -v "${names[$chosen]}")): $why."
fi

extras=""; (( with_tests )) && extras="[test]"
stamp=".venv/.murmur-installed$extras"
if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" ]]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # torch is pinned so that pip takes the known build (CUDA on Linux from PyPI,
  # or the CPU build where one is provided locally).
  .venv/bin/python -m pip install -q "$TORCH" -e ".$extras"
  # Speaker detection's voice encoder weights ship in the resemblyzer wheel. It is
  # installed without its dependencies (webrtcvad needs a compiler, librosa is
  # heavy): Murmur loads the weights itself (app/core/speakers/encoder.py).
  .venv/bin/python -m pip install -q --no-deps "resemblyzer==0.1.4"
  touch "$stamp"
fi
