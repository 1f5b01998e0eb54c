"""The whole pipeline with the trained listener model against an ffmpeg decode, same run.

Prints, for a long speech MP3 (made like ``bench_prepare``'s, cached), in one run:

- ``ffmpeg -i X -ac 1 -ar 16000 -f f32le -`` read from a pipe (the baseline);
- the whole CLI, ``python -m app transcribe X --model tests/fixtures/listener --device cpu``,
  in a child process, sequential (``--no-pipeline``: decode and detect everything first)
  and pipelined (the default): wall time, ratio to ffmpeg, peak RSS of the child;
- through ``transcribe_file`` in another child (model loading included, as a user waits
  for it): the time to the first transcribed chunk and to the end, sequential (also with
  the engine on one torch thread, to tell pipelining from the thread count), pipelined,
  and pipelined with the engine on every core even while the producer runs (by default
  it leaves the producer one core until decoding is over).

Usage::

    python -m benchmarks.bench_cli                 # 60 min
    python -m benchmarks.bench_cli --minutes 10    # quicker
    python -m benchmarks.bench_cli --minutes 600 --no-first   # 10 hours (peak RSS is the point)
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_prepare import make_long_mp3, time_ffmpeg  # noqa: E402
from tests.listener_speech import LISTENER  # noqa: E402

FIRST_SEGMENT = """
import sys, time
started = time.perf_counter()
from app.core.asr.engine import Engine, EngineOptions
from app.core.events import ChunkTranscribed
from app.core.pipeline import PipelineOptions, transcribe_file
threads = int(sys.argv[4])
dtype = sys.argv[5]
engine = Engine(EngineOptions(model=sys.argv[2], device="cpu", dtype=dtype, threads=threads))
first = None
options = PipelineOptions(pipeline=sys.argv[3] == "1")
for event in transcribe_file(sys.argv[1], engine, options):
    if isinstance(event, ChunkTranscribed) and first is None:
        first = time.perf_counter() - started
print(f"{first:.2f} {time.perf_counter() - started:.2f}")
"""


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and every process under it, summed (Linux /proc)."""
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as status:
                total += next(
                    (int(line.split()[1]) for line in status if line.startswith("VmRSS:")), 0
                )
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as children:
                    todo += [int(c) for c in children.read().split()]
        except (OSError, ValueError):
            continue
    return total / 1024


def run_child(args: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and stdout of a child process.

    The peak is that of the child and its own children together (a long file is decoded
    in a process of its own), sampled every 50 ms where /proc has it, else the child's
    ``ru_maxrss``."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], _tree_rss_mb(proc.pid))

    sampler = threading.Thread(target=sample)
    if os.path.exists(f"/proc/{proc.pid}/status"):
        sampler.start()
    out, err = proc.communicate()
    done.set()
    if sampler.ident is not None:  # it was started
        sampler.join()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{args[:4]} failed: {err.strip().splitlines()[-1:]}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, peak[0] or usage.ru_maxrss / 1024, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument(
        "--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "murmur-bench"
    )
    parser.add_argument("--no-first", action="store_true", help="skip the first-segment runs")
    parser.add_argument("--no-cli", action="store_true", help="skip the whole-CLI runs")
    parser.add_argument("--repeat", type=int, default=1, help="whole-CLI runs of each kind")
    parser.add_argument(
        "--precision",
        choices=("auto", "bf16", "fp32"),
        default="auto",
        help="the model's precision (auto, the CLI's default: bf16 on a CPU with bf16"
        " instructions, else fp32)",
    )
    parser.add_argument(
        "--pack",
        choices=("auto", "on", "off"),
        default="auto",
        help="the CLI's --pack (auto, its default, packs on a CPU)",
    )
    args = parser.parse_args(argv)
    if shutil.which("ffmpeg") is None:
        print("ffmpeg is needed for this benchmark", file=sys.stderr)
        return 2
    media = args.cache_dir / f"speech-{args.minutes:g}min.mp3"
    if not media.exists():
        print(f"making {media} ...", flush=True)
        make_long_mp3(media, args.minutes, args.cache_dir)
    print(
        f"media: {media} ({args.minutes:g} min), cpus {os.cpu_count()}, precision {args.precision}"
    )
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)

    ff, _ = time_ffmpeg(media)
    print(f"ffmpeg decode to 16 kHz f32:  {ff:8.2f} s", flush=True)
    ratios: dict[str, list[float]] = {"sequential": [], "pipelined": []}
    for run in range(0 if args.no_cli else args.repeat):
        for mode, extra in (("sequential", ["--no-pipeline"]), ("pipelined", [])):
            with tempfile.TemporaryDirectory() as out:
                cli = [sys.executable, "-m", "app", "transcribe", str(media)]
                cli += ["--model", str(LISTENER), "--device", "cpu", "--precision", args.precision]
                cli += ["-f", "srt", "-o", out, "-q", "--no-library", "--pack", args.pack, *extra]
                wall, rss, _ = run_child(cli)
            after, _ = time_ffmpeg(media)  # ffmpeg before and after: the machine drifts
            ratios[mode].append(wall / ((ff + after) / 2))
            print(
                f"run {run + 1}, whole CLI, {mode + ':':12s} {wall:8.2f} s = "
                f"{ratios[mode][-1]:.2f}x ffmpeg ({ff:.2f} s before, {after:.2f} s after; "
                f"target <= 3), peak RSS {rss:.0f} MB (with its decoding process)",
                flush=True,
            )
            ff = after
    if ratios["pipelined"]:
        seq, piped = (statistics.median(ratios[m]) for m in ("sequential", "pipelined"))
        print(f"median of the runs: sequential {seq:.2f}x, pipelined {piped:.2f}x ffmpeg")
    if not args.no_first:
        for mode, pipelined, threads in (
            ("sequential", "0", "0"),
            ("sequential, engine on 1 torch thread", "0", "1"),
            ("pipelined", "1", "0"),
            (
                f"pipelined, engine on all {os.cpu_count()} cores throughout",
                "1",
                str(os.cpu_count()),
            ),
        ):
            code = [sys.executable, "-c", FIRST_SEGMENT, str(media), str(LISTENER)]
            _, _, out_text = run_child([*code, pipelined, threads, args.precision])
            first, total = (float(x) for x in out_text.split()[-2:])
            print(
                f"transcribe_file, {mode}: first chunk after {first:6.2f} s, all done after"
                f" {total:7.2f} s (model loading included)",
                flush=True,
            )
    ff2, _ = time_ffmpeg(media)
    print(f"ffmpeg again:                 {ff2:8.2f} s")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
