#!/usr/bin/env bash
# Smoke-test the frozen build in dist/Murmur (packaging/build.sh runs it):
# - the command line transcribes real speech (espeak-ng, AAC in M4A) with the
#   listener fixture and writes the right words;
# - the window starts with that file queued and stays up, with no traceback.
set -euo pipefail
cd "$(dirname "$0")/.."
app=dist/Murmur/murmur
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

espeak-ng -v en-us -s 150 -w "$work/speech.wav" "red green blue stop"
ffmpeg -loglevel error -y -i "$work/speech.wav" -ar 44100 -ac 2 -c:a aac "$work/speech.m4a"

"$app" transcribe "$work/speech.m4a" --model tests/fixtures/listener --format txt \
    --output-dir "$work" --quiet
heard=$(tr -s '\n' ' ' < "$work/speech.txt" | sed 's/ *$//')
if [ "$heard" != "red green blue stop" ]; then
    echo "smoke test: the frozen command line heard '$heard'" >&2
    exit 1
fi

export MURMUR_CONFIG_DIR="$work/config"
QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}" \
    "$app" --model tests/fixtures/listener "$work/speech.m4a" >"$work/gui.log" 2>&1 &
pid=$!
sleep 10
if ! kill -0 "$pid" 2>/dev/null; then
    cat "$work/gui.log" >&2
    echo "smoke test: the frozen window exited early" >&2
    exit 1
fi
kill "$pid"
wait "$pid" || true
if grep -q Traceback "$work/gui.log"; then
    cat "$work/gui.log" >&2
    echo "smoke test: the frozen window printed a traceback" >&2
    exit 1
fi
echo "smoke test passed: dist/Murmur transcribes and opens its window"
