"""Benchmark media preparation: decode + resample + speech detection.

Compares Murmur's preparation of a long MP3 with plain FFmpeg decoding to 16 kHz mono
float32 (``ffmpeg -i X -ac 1 -ar 16000 -f f32le -``, read fully from a pipe), in the same
run, two ways:

- one step after the other (``decode_audio`` then ``detect_speech``), for each part's time;
- as the pipeline prepares a file (:class:`app.core.audio.stretches.SpeechStretches`):
  each stretch searched as soon as it is decoded, on the producer's thread, with one
  torch thread (the model has the other core);
- the same in a child process, as the pipeline does it for files of 10 minutes or more
  (:class:`app.core.audio.stretch_process.ProcessStretches`): the child's start is
  included;
- decoding in one child and speech detection in another, as the pipeline does it for
  such files on machines with 2 cores or more (``pipeline.DETECTOR_PROCESS_CPUS``).

ffmpeg runs before and after each, and each ratio is against the mean of the two (the
speed of a shared machine drifts); the summary is the median of the runs' ratios. The
target is a ratio of at most 1.5 (issue 14), for the pipeline's way with a long file
(two children, on 2 cores or more).

Usage::

    python -m benchmarks.bench_prepare                 # makes a 60 min MP3 (cached)
    python -m benchmarks.bench_prepare my_podcast.mp3  # any media file
    python -m benchmarks.bench_prepare --naive         # also the sequential silero pass

The generated MP3 is speech (espeak-ng sentences) with pauses of 0.3-4 s and a
long silence, looped to the length asked, 44.1 kHz stereo at 96 kbit/s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.core.audio.media import decode_audio, probe  # noqa: E402
from app.core.audio.stretch_process import ProcessStretches  # noqa: E402
from app.core.audio.stretches import Decoded, SpeechStretches  # noqa: E402
from app.core.audio.vad import VadOptions, detect_speech  # noqa: E402
from tests import speech  # noqa: E402

PATTERN_PAUSES = (0.4, 1.2, 0.3, 2.5, 0.8, 4.0)


def make_long_mp3(path: Path, minutes: float, work_dir: Path) -> Path:
    """A long speech MP3: one ~1 min pattern of sentences and silences, looped."""
    work_dir.mkdir(parents=True, exist_ok=True)
    pieces: list[np.ndarray] = []
    for k in range(2):
        samples, _on, _off = speech.build_track_samples(
            speech.SENTENCES,
            PATTERN_PAUSES[: len(speech.SENTENCES) - 1],
            work_dir / "espeak-cache",
            lead_s=1.0 + 3.0 * k,
            tail_s=2.0,
            gain_db=-6.0 * k,
        )
        pieces.append(samples)
    pieces.append(np.zeros(8 * speech.SAMPLE_RATE, np.float32))  # a long silence
    pattern = speech.write_wav(work_dir / "pattern.wav", np.concatenate(pieces))
    seconds = minutes * 60.0
    tmp = path.with_suffix(".part.mp3")
    subprocess.run(
        [
            speech.require_tool("ffmpeg"),
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-stream_loop",
            "-1",
            "-i",
            str(pattern),
            "-t",
            f"{seconds:.3f}",
            "-af",
            "pan=stereo|c0=c0|c1=c0",
            "-ar",
            "44100",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "96k",
            str(tmp),
        ],
        check=True,
    )
    os.replace(tmp, path)
    return path


def time_ffmpeg(path: Path) -> tuple[float, int]:
    """Seconds for ffmpeg to decode to 16 kHz mono f32 into a pipe; samples read."""
    args = [
        speech.require_tool("ffmpeg"),
        "-nostdin",
        "-v",
        "error",
        "-i",
        str(path),
        "-ac",
        "1",
        "-ar",
        "16000",
        "-f",
        "f32le",
        "-",
    ]
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    total = 0
    while block := proc.stdout.read(1 << 20):
        total += len(block)
    proc.wait()
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed with code {proc.returncode}")
    return elapsed, total // 4


def _last_item(producer: SpeechStretches | ProcessStretches) -> None:
    last = None
    while not producer.items.empty():
        last = producer.items.get()
    if not isinstance(last, Decoded):
        raise SystemExit(f"the producer failed: {last!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("media", nargs="?", type=Path, help="media file (default: generated MP3)")
    parser.add_argument("--minutes", type=float, default=60.0, help="length of generated MP3")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "murmur-bench",
        help="where the generated MP3 is kept",
    )
    parser.add_argument("--workers", type=int, default=None, help="VAD threads (default: cpus)")
    parser.add_argument("--repeat", type=int, default=1, help="runs; the best time is kept")
    parser.add_argument(
        "--naive", action="store_true", help="also time the sequential silero pass (slow)"
    )
    args = parser.parse_args(argv)

    if shutil.which("ffmpeg") is None:
        print("ffmpeg is needed for this benchmark", file=sys.stderr)
        return 2
    media: Path = args.media
    if media is None:
        media = args.cache_dir / f"speech-{args.minutes:g}min.mp3"
        if not media.exists():
            print(f"making {media} ...", flush=True)
            t = time.perf_counter()
            make_long_mp3(media, args.minutes, args.cache_dir)
            print(f"  made in {time.perf_counter() - t:.1f} s", flush=True)
    info = probe(media)
    print(
        f"media: {media} ({info.codec}, {info.sample_rate} Hz, {info.channels} ch, "
        f"{(info.duration or 0) / 60:.1f} min)"
    )
    print(f"cpus: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}")

    options = VadOptions(workers=args.workers)
    # Load the VAD network once, outside the timings (its weights from the cache, or
    # from silero's JIT model with torch the first time); reported on its own.
    t = time.perf_counter()
    detect_speech(np.zeros(speech.SAMPLE_RATE, np.float32), options=options)
    print(f"VAD network load (not timed below): {time.perf_counter() - t:.2f} s")
    best: dict[str, float] = {}
    ratios: dict[str, list[float]] = {"murmur": [], "stretches": [], "child": [], "apart": []}

    def keep(name: str, seconds: float) -> None:
        best[name] = min(seconds, best.get(name, float("inf")))

    audio = None
    regions: list = []
    for run in range(args.repeat):
        # ffmpeg before and after each of Murmur's ways, and each ratio against the mean
        # of the two: the speed of a shared machine drifts within a run.
        ff_a, ff_samples = time_ffmpeg(media)
        t0 = time.perf_counter()
        decoded = decode_audio(media)
        t1 = time.perf_counter()
        regions = detect_speech(decoded.samples, options=options)
        t2 = time.perf_counter()
        ff_b, _ = time_ffmpeg(media)
        t3 = time.perf_counter()
        producer = SpeechStretches(media, options)
        producer.run()
        t4 = time.perf_counter()
        _last_item(producer)
        ff_c, _ = time_ffmpeg(media)
        t5 = time.perf_counter()
        child = ProcessStretches(media, options)
        child.run()
        t6 = time.perf_counter()
        _last_item(child)
        child.close()
        ff_d, _ = time_ffmpeg(media)
        t7 = time.perf_counter()
        apart = ProcessStretches(media, options, detector=True)
        apart.run()
        t8 = time.perf_counter()
        _last_item(apart)
        apart.close()
        ff_e, _ = time_ffmpeg(media)
        for ff in (ff_a, ff_b, ff_c, ff_d, ff_e):
            keep("ffmpeg", ff)
        keep("decode", t1 - t0)
        keep("vad", t2 - t1)
        keep("murmur", t2 - t0)
        keep("stretches", t4 - t3)
        keep("child", t6 - t5)
        keep("apart", t8 - t7)
        ratios["murmur"].append((t2 - t0) / ((ff_a + ff_b) / 2))
        ratios["stretches"].append((t4 - t3) / ((ff_b + ff_c) / 2))
        ratios["child"].append((t6 - t5) / ((ff_c + ff_d) / 2))
        ratios["apart"].append((t8 - t7) / ((ff_d + ff_e) / 2))
        audio = decoded.samples
        print(
            f"run {run + 1}: ffmpeg "
            + " / ".join(f"{ff:.2f}" for ff in (ff_a, ff_b, ff_c, ff_d, ff_e))
            + " s; "
            f"decode {t1 - t0:.2f} s + vad {t2 - t1:.2f} s = {t2 - t0:.2f} s, ratio "
            f"{ratios['murmur'][-1]:.2f}; as the pipeline's thread {t4 - t3:.2f} s, ratio "
            f"{ratios['stretches'][-1]:.2f}; in a child process {t6 - t5:.2f} s, ratio "
            f"{ratios['child'][-1]:.2f}; detection in a second child {t8 - t7:.2f} s, ratio "
            f"{ratios['apart'][-1]:.2f}",
            flush=True,
        )
        if abs(len(audio) - ff_samples) > speech.SAMPLE_RATE // 10:
            print(f"  note: lengths differ: murmur {len(audio)}, ffmpeg {ff_samples} samples")

    assert audio is not None
    hours = len(audio) / speech.SAMPLE_RATE / 3600
    speech_s = sum(r.end - r.start for r in regions)
    print(f"speech found: {len(regions)} regions, {speech_s / 60:.1f} min")
    print(f"ffmpeg to 16 kHz f32:     {best['ffmpeg']:7.2f} s (best)")
    print(f"murmur decode+resample:   {best['decode']:7.2f} s")
    print(f"murmur speech detection:  {best['vad']:7.2f} s  ({best['vad'] / hours:.1f} s per hour)")
    print(f"murmur, one after other:  {best['murmur']:7.2f} s")
    print(f"murmur, as the pipeline:  {best['stretches']:7.2f} s  (stretch by stretch, one thread)")
    print(f"murmur, in a child:       {best['child']:7.2f} s  (its start too; no torch import)")
    print(f"murmur, two children:     {best['apart']:7.2f} s  (decoding; detection apart)")
    med = {k: statistics.median(v) for k, v in ratios.items()}
    print(
        f"ratio murmur / ffmpeg:    {med['apart']:7.2f}  (target <= 1.5; the pipeline's way for "
        f"long files, two children; median of the runs' ratios; one after the other "
        f"{med['murmur']:.2f}; on a thread {med['stretches']:.2f}; in one child {med['child']:.2f})"
    )

    if args.naive:
        t = time.perf_counter()
        detect_speech(audio, options=VadOptions(max_stretches=1, workers=1))
        naive_vad = time.perf_counter() - t
        naive = best["decode"] + naive_vad
        print(f"naive sequential silero:  {naive_vad:7.2f} s  ({naive_vad / hours:.1f} s per hour)")
        print(f"ratio naive / ffmpeg:     {naive / best['ffmpeg']:7.2f}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
