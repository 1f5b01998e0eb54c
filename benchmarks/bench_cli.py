"""The whole pipeline with the trained listener model against an ffmpeg decode, same run.

Prints, for a long speech MP3 (made like ``bench_prepare``'s, cached):

- ``ffmpeg -i X -ac 1 -ar 16000 -f f32le -`` read from a pipe (the baseline);
- the whole CLI, ``python -m app transcribe X --model tests/fixtures/listener --device cpu``,
  in a child process: wall time, ratio to ffmpeg, peak RSS of the child;
- the time to the first transcribed chunk through ``transcribe_file`` (another child).

Usage::

    python -m benchmarks.bench_cli                 # 60 min
    python -m benchmarks.bench_cli --minutes 600   # 10 hours (peak RSS is the point)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_prepare import make_long_mp3, time_ffmpeg  # noqa: E402
from tests.listener_speech import LISTENER  # noqa: E402

FIRST_SEGMENT = """
import sys, time
from app.core.asr.engine import Engine, EngineOptions
from app.core.events import ChunkTranscribed
from app.core.pipeline import transcribe_file
engine = Engine(EngineOptions(model=sys.argv[2], device="cpu", dtype="fp32"))
engine.load()
started = time.perf_counter()
for event in transcribe_file(sys.argv[1], engine):
    if isinstance(event, ChunkTranscribed):
        print(f"{time.perf_counter() - started:.2f}")
        break
"""


def run_child(args: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and stdout of a child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{args[:4]} failed: {err.strip().splitlines()[-1:]}")
    return wall, usage.ru_maxrss / 1024, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument(
        "--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "murmur-bench"
    )
    parser.add_argument("--no-first", action="store_true", help="skip the first-segment run")
    args = parser.parse_args(argv)
    if shutil.which("ffmpeg") is None:
        print("ffmpeg is needed for this benchmark", file=sys.stderr)
        return 2
    media = args.cache_dir / f"speech-{args.minutes:g}min.mp3"
    if not media.exists():
        print(f"making {media} ...", flush=True)
        make_long_mp3(media, args.minutes, args.cache_dir)
    print(f"media: {media} ({args.minutes:g} min), cpus {os.cpu_count()}")
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)

    ff, _ = time_ffmpeg(media)
    print(f"ffmpeg decode to 16 kHz f32:  {ff:8.2f} s", flush=True)
    with tempfile.TemporaryDirectory() as out:
        cli = [sys.executable, "-m", "app", "transcribe", str(media), "--model", str(LISTENER)]
        cli += ["--device", "cpu", "--precision", "fp32", "-f", "srt", "-o", out, "-q"]
        wall, rss, _ = run_child(cli)
    print(f"whole CLI (listener):         {wall:8.2f} s  = {wall / ff:.2f}x ffmpeg (target <= 3)")
    print(f"CLI peak RSS:                 {rss:8.0f} MB")
    if not args.no_first:
        code = [sys.executable, "-c", FIRST_SEGMENT, str(media), str(LISTENER)]
        _, _, out_text = run_child(code)
        print(f"first transcribed chunk after {float(out_text.split()[-1]):6.2f} s (model loaded)")
    ff2, _ = time_ffmpeg(media)
    print(f"ffmpeg again:                 {ff2:8.2f} s")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
