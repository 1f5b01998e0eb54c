"""Pause-to-text latency of live dictation, and what the real GLM-ASR costs on this CPU.

Part 1 (``listener``): held-out espeak-ng sentences separated by pauses are played at real
pace, as 44.1 kHz stereo in 20 ms blocks, through the fake PortAudio stream
(tests/fake_stream.py) into a :class:`~app.core.audio.capture.Recorder`; its 16 kHz tap goes
to :func:`~app.core.dictation.dictate` with the trained listener (tests/fixtures/listener).
The latency of an utterance is the time from the moment the stream delivered the last
sample of its speech to the moment its text came out. It includes, by design, the silence
that ends an utterance (``--pause``, 0.5 s by default). Goal: median <= 1.0 s, max <= 2.0 s.

Part 2 (``glm``): the real GLM-ASR-Nano architecture (``GlmAsrConfig()`` defaults, 2.1 B
parameters, random weights, bf16) transcribing one 3 s utterance, with the output forced to
4 tokens per second of speech (``min_new_tokens = max_new_tokens``): the wait of a CPU user
of the real model, split into encoder, prefill and decoding, and the encoder again on the
utterance's own 3 s of features instead of a padded 30 s window.

    .venv/bin/python -m benchmarks.dictation_latency                 # both parts
    .venv/bin/python -m benchmarks.dictation_latency --part listener --utterances 12
    .venv/bin/python -m benchmarks.dictation_latency --part glm --threads 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.core.asr.engine import Engine, EngineOptions  # noqa: E402
from app.core.audio.capture import Recorder  # noqa: E402
from app.core.dictation import DictationOptions, UtteranceTranscribed, dictate  # noqa: E402
from tests import speech  # noqa: E402
from tests.fake_stream import FileStreamFactory  # noqa: E402
from tests.listener_speech import HELD_OUT_SEED, LISTENER, make_track, wer  # noqa: E402


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def bench_listener(n: int, threads: int, pause: float, work: Path) -> None:
    rng = np.random.default_rng(HELD_OUT_SEED + 61)
    pauses = [float(p) for p in rng.uniform(1.0, 2.0, n - 1)]
    track = make_track(work, HELD_OUT_SEED + 62, pauses, 2, 6)
    stereo = speech.convert(track.path, work / "track44k.wav", "wav44k_stereo")
    import soundfile as sf

    samples, rate = sf.read(str(stereo), dtype="float32", always_2d=True)
    engine = Engine(EngineOptions(model=str(LISTENER), device="cpu", dtype="fp32"))
    engine.load()
    options = DictationOptions(threads=threads)
    options = replace(options, utterances=replace(options.utterances, end_silence_s=pause))
    factory = FileStreamFactory(samples, rate, then="hold")
    recorder = Recorder(
        path=work / "dictation.flac", samplerate=rate, channels=2, stream_factory=factory
    )
    tap = recorder.open_tap()
    print(f"listener: {n} sentences, {track.duration:.1f} s at real pace, load {load()}")
    recorder.start()
    stream = factory.stream
    assert stream is not None
    threading.Thread(
        target=lambda: (stream.source_done.wait(), time.sleep(0.2), recorder.stop()), daemon=True
    ).start()
    results: list[tuple[UtteranceTranscribed, float]] = []
    for event in dictate(engine, tap, options):
        if isinstance(event, UtteranceTranscribed):
            results.append((event, time.monotonic()))
    latencies: list[float] = []
    for (event, at), end in zip(results, track.ends, strict=False):
        latency = at - stream.time_of(round(end * rate) - 1)
        latencies.append(latency)
        print(
            f"  {event.index:2d} {event.start:6.2f}-{event.end:6.2f} s  latency {latency:5.2f} s"
            f"  (model {event.transcribe_s:4.2f} s)  {event.text}"
        )
    texts = [e.text for e, _ in results]
    score = wer(track.sentences, texts) if len(texts) == n else float("nan")
    print(
        f"listener, {threads} torch thread(s), pause {pause} s: {len(results)}/{n} utterances, "
        f"WER {score:.1%}; latency median {statistics.median(latencies):.2f} s, "
        f"max {max(latencies):.2f} s (goal: median <= 1.0 s, max <= 2.0 s); "
        f"model time median {statistics.median(e.transcribe_s for e, _ in results):.2f} s; "
        f"load {load()}"
    )


def bench_glm(seconds: float, threads: int, tokens_per_second: float) -> None:
    import torch
    from transformers import GlmAsrConfig, GlmAsrForConditionalGeneration
    from transformers.initialization import no_init_weights

    torch.set_num_threads(threads)
    config = GlmAsrConfig()
    started = time.monotonic()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with no_init_weights():
            model = GlmAsrForConditionalGeneration(config)
    finally:
        torch.set_default_dtype(torch.float32)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-0.02, 0.02, generator=gen)
    model.eval()
    params = sum(p.numel() for p in model.parameters()) / 1e9
    print(
        f"glm: GlmAsrConfig() defaults, {params:.2f} B parameters, bf16, built in "
        f"{time.monotonic() - started:.0f} s; {threads} thread(s); load {load()}"
    )
    bins = config.audio_config.num_mel_bins
    frames_window = 3000  # one 30 s window, as the processor pads it
    frames = round(seconds * 100)

    def n_audio_tokens(length: int) -> int:
        for padding, kernel, stride in ((1, 3, 1), (1, 3, 2)):
            length = (length + 2 * padding - (kernel - 1) - 1) // stride + 1
        return (length - 4) // 4 + 1

    def timed(fn: object) -> float:
        t = time.monotonic()
        fn()  # type: ignore[operator]
        return time.monotonic() - t

    new_tokens = max(1, round(seconds * tokens_per_second))
    own = frames + (-frames) % 8  # the frame merge needs a multiple of 8 frames
    for label, total in (("padded 30 s window (as today)", frames_window), ("3 s only", own)):
        features = torch.randn(1, bins, total, generator=gen).to(torch.bfloat16)
        mask = torch.zeros(1, total, dtype=torch.long)
        mask[:, :frames] = 1
        n_audio = n_audio_tokens(frames)
        prompt = [1] + [config.audio_token_id] * n_audio + list(range(100, 112))
        ids = torch.tensor([prompt])
        with torch.inference_mode():
            encoder = timed(lambda f=features, m=mask: model.get_audio_features(f, m))
            prefill = timed(
                lambda f=features, m=mask, i=ids: model(
                    input_ids=i, input_features=f, input_features_mask=m
                )
            )
            t = time.monotonic()
            out = model.generate(
                input_ids=ids,
                input_features=features,
                input_features_mask=mask,
                attention_mask=torch.ones_like(ids),
                do_sample=False,
                min_new_tokens=new_tokens,
                max_new_tokens=new_tokens,
            )
            total_s = time.monotonic() - t
        made = out.shape[1] - ids.shape[1]
        step = (total_s - prefill) / max(1, made - 1)
        print(
            f"  encoder on {label}: encoder {encoder:.2f} s, encoder+prefill ({len(prompt)} "
            f"tokens) {prefill:.2f} s, {made} new tokens: {total_s:.2f} s in all "
            f"(~{step:.2f} s per decoding step)"
        )
    print(f"glm: load {load()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("listener", "glm", "both"), default="both")
    parser.add_argument("--utterances", type=int, default=12)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (listener part)")
    parser.add_argument("--glm-threads", type=int, default=2)
    parser.add_argument("--pause", type=float, default=0.5)
    parser.add_argument("--seconds", type=float, default=3.0, help="utterance length (glm)")
    parser.add_argument("--tokens-per-second", type=float, default=4.0)
    args = parser.parse_args(argv)
    if args.part in ("listener", "both"):
        with tempfile.TemporaryDirectory(prefix="murmur-dictation-") as work:
            bench_listener(args.utterances, args.threads, args.pause, Path(work))
    if args.part in ("glm", "both"):
        bench_glm(args.seconds, args.glm_threads, args.tokens_per_second)
    return 0


if __name__ == "__main__":
    sys.exit(main())
