#!/usr/bin/env bash
# Smoke-test the frozen build in dist/Murmur and its .deb (packaging/build.sh runs it):
# - the command line transcribes real speech (espeak-ng, AAC in M4A) with the
#   listener fixture and writes the right words without a Python warning, with two
#   speakers found (the voice encoder's weights are bundled) and a .docx written (lxml);
# - the window starts with that file queued and stays up, with no traceback;
# - the frozen app records: `murmur devices` lists the virtual PulseAudio microphone,
#   and `murmur record --transcribe` hears the speech played into it (PortAudio, ALSA and
#   its pulse plugin work from the bundle);
# - the .deb installs with dpkg, its `murmur` on the PATH transcribes, and removing it
#   leaves no file behind (skipped when not root: dpkg needs it).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
app=$root/dist/Murmur/murmur
work=$(mktemp -d)
pulse_pid=""
cleanup() {
  [[ -n $pulse_pid ]] && kill "$pulse_pid" 2>/dev/null && wait "$pulse_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "smoke test: $*" >&2; exit 1; }
export MURMUR_CONFIG_DIR="$work/config" MURMUR_DATA_DIR="$work/data" XDG_CACHE_HOME="$work/cache"

espeak-ng -v en-us -s 150 -w "$work/speech.wav" "red green blue stop"
ffmpeg -loglevel error -y -i "$work/speech.wav" -ar 44100 -ac 2 -c:a aac "$work/speech.m4a"
heard() { tr -s '\n' ' ' < "$1" | sed 's/ *$//'; }

# --- the frozen command line ------------------------------------------------------------
# Every subcommand is in the bundle (they are imported by name).
for sub in transcribe library devices record dictate; do
  "$app" "$sub" --help >/dev/null 2>"$work/help.log" ||
    { cat "$work/help.log" >&2; fail "the frozen 'murmur $sub --help' failed"; }
done
"$app" transcribe "$work/speech.m4a" --model tests/fixtures/listener --format txt,docx \
    --output-dir "$work" --quiet --no-library 2>"$work/cli.log" ||
  { cat "$work/cli.log" >&2; fail "the frozen 'murmur transcribe' failed"; }
cat "$work/cli.log" >&2
# No Python warning either: torch's modules are in the bundle without their source, and
# those that read it at run time must have it ("Unable to retrieve source ...").
grep -E "Traceback|Warning:|Unable to retrieve source" "$work/cli.log" >&2 &&
  fail "the frozen command line printed a warning or a traceback"
[[ $(heard "$work/speech.txt") == "red green blue stop" ]] ||
  fail "the frozen command line heard '$(heard "$work/speech.txt")'"
[[ -s $work/speech.docx ]] || fail "no .docx written"
"$app" transcribe "$work/speech.m4a" --model tests/fixtures/listener --format txt \
    --output-dir "$work/speakers" --speakers 2 --quiet --no-library
grep -q "^Speaker 2: " "$work/speakers/speech.txt" ||
  fail "speakers: $(cat "$work/speakers/speech.txt")"
echo "smoke test: the frozen command line heard 'red green blue stop', and two speakers"
# Speech detection keeps silero's weights as arrays, so that the decoding process below
# needs no torch: the frozen app must find the package's JIT file to name that cache.
compgen -G "$work/data/cache/silero-vad-*.npz" >/dev/null ||
  fail "speech detection's weights were not cached (silero_vad's data not found?)"

# A file of 10 minutes or more is decoded in a child process (multiprocessing's spawn,
# which a frozen app must hand to freeze_support): the phrase every 12 s, 10.4 minutes.
ffmpeg -loglevel error -y -i "$work/speech.wav" -af "apad=whole_dur=12" "$work/period.wav"
ffmpeg -loglevel error -y -stream_loop 51 -i "$work/period.wav" -ar 44100 -ac 2 -c:a aac \
    "$work/long.m4a"
# Cut at pauses (--pack off), as the tests of the media path do: this file is one phrase
# 52 times over, and the listener (trained on 10 s windows) hears "green" as "three" in
# about a third of them when several share a packed window (all 52 cues are there);
# this check is about the frozen child processes, not the listener's packed words.
"$app" transcribe "$work/long.m4a" --model tests/fixtures/listener --format txt \
    --output-dir "$work/long" --quiet --no-library --pack off 2>"$work/long.log" ||
  { cat "$work/long.log" >&2; fail "the frozen 'murmur transcribe' of a long file failed"; }
# ("decoding on a thread": the child could not start, and a thread did its work; the
# two others: speech detection could not run in a process of its own beside it)
grep -E "Traceback|Warning:|Error|decoding on a thread|detecting speech in the decoding|detection process ended" "$work/long.log" >&2 &&
  fail "the frozen long transcription printed a warning or a traceback"
times=$(grep -o "red green blue stop" "$work/long/long.txt" | wc -l)
((times >= 50)) || fail "the frozen long transcription heard the phrase $times times of 52"
echo "smoke test: the frozen command line heard a 10-minute file ($times of 52), decoded and searched for speech in child processes"

# --- the frozen window ------------------------------------------------------------------
QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}" \
    "$app" --model tests/fixtures/listener "$work/speech.m4a" >"$work/gui.log" 2>&1 &
pid=$!
sleep 10
if ! kill -0 "$pid" 2>/dev/null; then
  cat "$work/gui.log" >&2
  fail "the frozen window exited early"
fi
kill "$pid"
wait "$pid" || true
if grep -q Traceback "$work/gui.log"; then
  cat "$work/gui.log" >&2
  fail "the frozen window printed a traceback"
fi
echo "smoke test: the frozen window opened and stayed up"

# --- the frozen app records from a virtual microphone ------------------------------------
# A private PulseAudio with a null sink whose monitor is the default source
# (tests/fixtures_mic.py does the same for pytest).
mkdir -m 700 "$work/pulse"
(
  export XDG_RUNTIME_DIR="$work/pulse" HOME="$work/pulse"
  unset PULSE_SERVER
  exec pulseaudio --daemonize=no --exit-idle-time=-1 -n --load=module-native-protocol-unix \
       --load="module-null-sink sink_name=vmic" >"$work/pulse.log" 2>&1
) &
pulse_pid=$!
export XDG_RUNTIME_DIR="$work/pulse"
for _ in $(seq 100); do pactl info >/dev/null 2>&1 && break; sleep 0.2; done
pactl set-default-source vmic.monitor || { cat "$work/pulse.log" >&2; fail "PulseAudio did not start"; }

HOME="$work/pulse" "$app" devices >"$work/devices.txt" 2>&1 ||
  { cat "$work/devices.txt" >&2; fail "the frozen 'murmur devices' failed"; }
grep -q '^\* *[0-9]' "$work/devices.txt" || { cat "$work/devices.txt" >&2; fail "no default input"; }
echo "smoke test: the frozen 'murmur devices' lists: $(grep '^\* *[0-9]' "$work/devices.txt")"

HOME="$work/pulse" "$app" record --output "$work/rec.flac" --transcribe --model tests/fixtures/listener \
    --format txt --output-dir "$work/rec" --no-library >"$work/rec.out" 2>"$work/rec.log" &
rec_pid=$!
for _ in $(seq 150); do grep -q "press Ctrl+C" "$work/rec.log" 2>/dev/null && break; sleep 0.2; done
grep -q "press Ctrl+C" "$work/rec.log" || { cat "$work/rec.log" >&2; fail "the recording did not start"; }
sleep 0.5
paplay --device=vmic "$work/speech.wav"
sleep 0.5
kill -INT "$rec_pid"
wait "$rec_pid" || { cat "$work/rec.log" >&2; fail "the frozen 'murmur record' failed"; }
[[ $(heard "$work/rec/rec.txt") == "red green blue stop" ]] ||
  { cat "$work/rec.log" >&2; fail "the frozen recording holds '$(heard "$work/rec/rec.txt")'"; }
kill "$pulse_pid" && wait "$pulse_pid" 2>/dev/null || true
pulse_pid=""
unset XDG_RUNTIME_DIR
echo "smoke test: the frozen 'murmur record' heard 'red green blue stop' from the microphone"

# --- the .deb -----------------------------------------------------------------------------
deb=$(ls dist/murmur_*.deb 2>/dev/null | head -1)
[[ -n $deb ]] || fail "no dist/murmur_*.deb"
if [[ $(id -u) != 0 ]]; then
  echo "smoke test: $deb not installed (dpkg -i needs root)"
  echo "smoke test passed: dist/Murmur transcribes, records and opens its window"
  exit 0
fi
dpkg-query -W murmur >/dev/null 2>&1 && fail "murmur is installed already; remove it first"
# Every file under the folders the package writes to, before and after. The desktop's
# caches are the exception: desktop-file-utils' and hicolor-icon-theme's dpkg triggers
# (re)build them whenever any package adds a desktop entry or an icon, so they may appear,
# but must not name Murmur once it is removed.
caches=(/usr/share/applications/mimeinfo.cache /usr/share/icons/hicolor/icon-theme.cache)
snapshot() {
  find /opt /usr/bin /usr/share/applications /usr/share/icons /usr/share/doc 2>/dev/null |
    grep -vxF -e "${caches[0]}" -e "${caches[1]}" | sort
}
snapshot >"$work/before.txt"
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -i failed"; }
dpkg -L murmur >"$work/files.txt"
for f in /usr/bin/murmur /opt/murmur/murmur /usr/share/applications/murmur.desktop \
         /usr/share/icons/hicolor/48x48/apps/murmur.png /usr/share/icons/hicolor/scalable/apps/murmur.svg; do
  grep -qx "$f" "$work/files.txt" || fail "the package does not hold $f"
done
[[ $(command -v murmur) == /usr/bin/murmur ]] || fail "murmur on the PATH is $(command -v murmur)"
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate /usr/share/applications/murmur.desktop || fail "the .desktop file is not valid"
fi
# "Open with Murmur": the MIME handler cache offers the installed entry for audio and
# video (the system's cache where there is one, else one built from the entry alone).
if command -v update-desktop-database >/dev/null; then
  cache=/usr/share/applications/mimeinfo.cache
  if [[ ! -f $cache ]]; then
    mkdir "$work/apps" && cp /usr/share/applications/murmur.desktop "$work/apps/"
    update-desktop-database -q "$work/apps"
    cache=$work/apps/mimeinfo.cache
  fi
  for type in audio/mpeg audio/x-wav video/mp4 video/x-matroska; do
    grep -q "^$type=.*murmur\.desktop" "$cache" || fail "$cache does not offer murmur.desktop for $type"
  done
fi
touch "$work/installed"
mkdir "$work/installed-out"
(cd "$work" && murmur transcribe "$work/speech.m4a" --model "$root/tests/fixtures/listener" \
    --format txt --output-dir "$work/installed-out" --quiet --no-library)
[[ $(heard "$work/installed-out/speech.txt") == "red green blue stop" ]] ||
  fail "the installed murmur heard '$(heard "$work/installed-out/speech.txt")'"
written=$(find /opt/murmur -newer "$work/installed" | head -5)
[[ -z $written ]] || fail "running the installed app wrote into /opt/murmur: $written"
echo "smoke test: the installed 'murmur transcribe' heard 'red green blue stop'"
dpkg -r murmur >>"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -r failed"; }
dpkg --purge murmur >>"$work/dpkg.log" 2>&1 || true
snapshot >"$work/after.txt"
if ! diff "$work/before.txt" "$work/after.txt" >"$work/stray.txt"; then
  cat "$work/stray.txt" >&2
  fail "installing and removing the package changed the files above"
fi
for cache in "${caches[@]}"; do
  if grep -aqs murmur "$cache"; then
    fail "$cache still names murmur after removal"
  fi
done
echo "smoke test: $deb ($(du -h "$deb" | cut -f1)) installed, ran and was removed without a trace"
echo "smoke test passed: dist/Murmur transcribes, records and opens its window; the .deb installs and removes"
