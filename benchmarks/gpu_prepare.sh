#!/usr/bin/env bash
# Builds .gpu/, what benchmarks/gpu_session.sh needs on a lent GPU machine that can reach
# no package index (its Python is 3.12 with torch and transformers, without PyAV,
# soundfile, platformdirs or silero-vad). Run here, from the repository root, with the
# project's environment set up (espeak-ng, sox and ffmpeg make the speech). About 60 MiB,
# under the 64 MiB that travels with a call; .gpu/ is ignored by git.
set -euo pipefail
PY=${PY:-.venv/bin/python}
mkdir -p .gpu/whl .gpu/site .gpu/listener
grep -qxF '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >>.git/info/exclude

version() { "$PY" -m pip show "$1" | sed -n 's/^Version: //p'; }
platforms=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64
    --platform manylinux2014_x86_64 --platform any)
for name in av soundfile cffi pycparser platformdirs; do
    "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp "${platforms[@]}" -d .gpu/whl "$name==$(version "$name")"
done

# silero-vad: its Python files and the JIT model speech detection reads (not its ONNX files)
tmp=$(mktemp -d)
"$PY" -m pip download -q --no-deps --only-binary=:all: -d "$tmp" \
    "silero-vad==$(version silero-vad)"
(cd .gpu/site && unzip -q -o "$tmp"/silero_vad-*.whl 'silero_vad/*.py' \
    'silero_vad/data/silero_vad.jit' 'silero_vad-*.dist-info/*')
rm -rf "$tmp"

# rtf.py's spaced espeak speech, about an hour, as a 16 kHz mono MP3 (12 MB)
wav=$("$PY" -c 'import sys; sys.path[:0] = [".", "benchmarks"]
from pathlib import Path; import tempfile, rtf
print(rtf.make_speech(60, Path(tempfile.gettempdir()) / "murmur-bench"))')
ffmpeg -v error -y -i "$wav" -ac 1 -ar 16000 -c:a libmp3lame -b:a 24k .gpu/speech-60min.mp3

# held-out sentences for the trained listener (no espeak-ng there)
"$PY" benchmarks/cuda_checks.py --make-listener-clips .gpu/listener/clips.npz
du -sh .gpu
