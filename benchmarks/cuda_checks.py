"""Checks and timings that need an NVIDIA GPU, on the real GLM-ASR architecture.

The model is ``rtf.py``'s: ``GlmAsrConfig()`` defaults with random bf16 weights, the output
forced to 4 tokens per second of chunk audio. The chunks are the first ``--chunks`` chunks
of ``--media``, cut at pauses as the app cuts them on a GPU. In one process:

1. **batch sweep**: seconds per chunk of ``Engine.transcribe`` at each batch size, and
   the peak GPU memory each chunk of a batch added, against the estimate the engine sizes
   its batch from (``model_loader.chunk_memory_bytes``) and the batch it picks;
2. **batched against alone**: the same chunks in one batch and one at a time (bf16 on a
   GPU: the kernels differ with the batch, so a random model's tokens may part after a
   while; the share of tokens that agree is printed);
3. **the trained listener** (``--listener-clips``, made by ``--make-listener-clips`` on a
   machine with espeak-ng): ``tests/fixtures/listener`` loaded through the app's own path
   (``Engine.load``, ``from_pretrained``) on CUDA and on the CPU, each in its default
   precision; each transcribes the same held-out sentences; the word error rate on CUDA
   must stay under the tests' bar;
4. **out of memory**: the GPU memory this process may take is capped so that a batch of
   ``--oom-batch`` cannot fit; the engine must halve the batch until it fits, without an
   error, and give the same number of results, with the tokens of an uncapped run at the
   batch size it settled on.

Usage (on the GPU machine)::

    python benchmarks/cuda_checks.py --media speech.mp3 --sizes 16,64,128,256

The last lines are a table of what passed.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "benchmarks"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import rtf  # noqa: E402

import app.core.asr.engine as engine_module  # noqa: E402
import app.core.asr.model_loader as model_loader  # noqa: E402
from app.core.asr.engine import Engine, EngineOptions  # noqa: E402
from app.core.asr.model_loader import device_info_for  # noqa: E402


def _forced(seconds: float, _rate: float = 0.0) -> int:
    return max(1, math.ceil(seconds * rtf.TOKENS_PER_SECOND))


def sweep(engine: Engine, audios: list[Any], sizes: list[int]) -> list[str]:
    import torch

    lines = []
    estimate = model_loader.chunk_memory_bytes(
        engine.model.config, 2, tokens_per_second=engine.options.tokens_per_second
    )
    free, total = torch.cuda.mem_get_info()
    uncapped = int(free * model_loader.CUDA_MEMORY_SHARE // estimate)
    print(
        f"free {free / 2**30:.1f} of {total / 2**30:.1f} GiB after the weights; the engine's "
        f"estimate per chunk {estimate / 2**20:.0f} MiB; the batch it sizes from free memory "
        f"{engine.batch_size} (cap {model_loader.CUDA_MAX_BATCH}; {uncapped} uncapped)",
        flush=True,
    )
    seconds = sum(len(a) for a in audios) / 16000
    print("| batch | wall s | per chunk ms | audio x real time | peak MiB/chunk |")
    print("|---|---|---|---|---|")
    base = torch.cuda.memory_allocated()
    for size in sizes:
        sized_engine = engine.with_options(batch_size=size)
        for _ in sized_engine.transcribe(audios[:size]):  # warm: kernels, allocator
            pass
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        for _ in sized_engine.transcribe(audios):
            pass
        torch.cuda.synchronize()
        wall = time.perf_counter() - started
        per_chunk = (torch.cuda.max_memory_allocated() - base) / size / 2**20
        line = (
            f"| {size} | {wall:.2f} | {1000 * wall / len(audios):.1f} | "
            f"{seconds / wall:.0f} | {per_chunk:.0f} |"
        )
        print(line, flush=True)
        lines.append(line)
    return lines


def graphs(engine: Engine, audios: list[Any]) -> tuple[bool, str]:
    """The engine's decoding (a static cache, steps replayed from CUDA graphs) against the
    same static decoding run eagerly (the same kernels: the same tokens), and against
    transformers' generate (``cuda_graphs=False``), with the time of each."""
    import torch

    decoder = engine._decoders.get(engine.model)
    runs: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    for name in ("graphs", "eager", "generate", "graphs again", "generate again"):
        decoder.graphs = name != "eager"
        if name in ("graphs", "eager"):
            decoder.clear()
        runner = engine.with_options(cuda_graphs=not name.startswith("generate"))
        torch.cuda.synchronize()
        started = time.perf_counter()
        runs[name] = runner.decode_batch(audios)
        torch.cuda.synchronize()
        seconds[name] = time.perf_counter() - started
    decoder.graphs = True
    same = [a.ids == b.ids for a, b in zip(runs["graphs"], runs["eager"], strict=True)]
    again = [a.ids == b.ids for a, b in zip(runs["graphs"], runs["graphs again"], strict=True)]
    # how far generate itself repeats: the bar for the graphs' own repeat
    plain = [a.ids == b.ids for a, b in zip(runs["generate"], runs["generate again"], strict=True)]
    agree = total = 0
    for a, b in zip(runs["graphs"], runs["generate"], strict=True):
        total += max(len(a.ids), len(b.ids))
        agree += sum(x == y for x, y in zip(a.ids, b.ids, strict=False))
    tokens = sum(len(d.ids) for d in runs["graphs"])
    ok = all(same) and all(again) and decoder.captured > 0
    return ok, (
        f"{len(audios)} chunks, {tokens} tokens: graphs {seconds['graphs']:.2f} s (captured "
        f"{decoder.captured}), again {seconds['graphs again']:.2f} s, eager static "
        f"{seconds['eager']:.2f} s, generate {seconds['generate']:.2f} s; graphs = eager "
        f"for {sum(same)}/{len(same)} rows, = the first graphed run for "
        f"{sum(again)}/{len(again)}; generate = generate again for {sum(plain)}/{len(plain)} "
        f"rows; generate agrees on {agree}/{total} tokens ({agree / max(1, total):.1%})"
    )


def batched_against_alone(engine: Engine, audios: list[Any]) -> str:
    batched = engine.with_options(batch_size=len(audios)).decode_batch(audios)
    alone = [engine.with_options(batch_size=1).decode_batch([a])[0] for a in audios]
    same = total = 0
    for a, b in zip(batched, alone, strict=True):
        total += max(len(a.ids), len(b.ids))
        same += sum(x == y for x, y in zip(a.ids, b.ids, strict=False))
    lengths = [len(a.ids) == len(b.ids) for a, b in zip(batched, alone, strict=True)]
    return (
        f"{len(audios)} chunks batched vs alone: {same}/{total} tokens agree "
        f"({same / max(1, total):.1%}); lengths equal {sum(lengths)}/{len(lengths)}"
    )


def make_listener_clips(path: Path, sets: int) -> None:
    """Held-out listener sentences (``tests.listener_speech.sentence_clips``) saved as
    16-bit samples with their texts, for a machine without espeak-ng."""
    import json
    import tempfile

    import numpy as np

    from tests.listener_speech import HELD_OUT_SEED, sentence_clips

    arrays: dict[str, Any] = {}
    texts: list[list[str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(sets):
            track, clips = sentence_clips(Path(tmp) / str(k), HELD_OUT_SEED + 300 + k)
            texts.append(list(track.sentences))
            for j, clip in enumerate(clips):
                pcm = np.clip(np.round(np.asarray(clip) * 32767), -32768, 32767)
                arrays[f"s{k}c{j}"] = pcm.astype(np.int16)
    np.savez_compressed(path, texts=np.array(json.dumps(texts)), **arrays)


def listener(path: Path) -> tuple[bool, str]:
    import json

    import numpy as np

    from tests.listener_speech import LISTENER, WER_BAR, wer

    with np.load(path) as data:
        texts = json.loads(str(data["texts"]))
        sets = [
            [data[f"s{k}c{j}"].astype(np.float32) / 32767 for j in range(len(refs))]
            for k, refs in enumerate(texts)
        ]
    refs = [t for group in texts for t in group]
    said = []
    rates = {}
    decoded = {}
    for device in ("cuda", "cpu"):
        engine = Engine(EngineOptions(model=str(LISTENER), device=device))
        info = engine.load()
        try:
            started = time.perf_counter()
            out = [d for clips in sets for d in engine.decode_batch(clips)]
            wall = time.perf_counter() - started
        finally:
            engine.unload()
        decoded[device] = out
        rates[device] = wer(refs, [d.text for d in out])
        said.append(
            f"{device} ({info.dtype}, {info.name}): WER {rates[device]:.3f} in {wall:.2f} s"
        )
    same = sum(a.ids == b.ids for a, b in zip(decoded["cuda"], decoded["cpu"], strict=True))
    said.append(f"the same tokens on both for {same}/{len(refs)} sentences; bar {WER_BAR}")
    return rates["cuda"] <= WER_BAR, "; ".join(said)


def heard(path: Path) -> tuple[bool, str]:
    """Where the listener heard each token of rows holding two or three sentences each (as
    packed windows do), on CUDA through the static path and its CUDA graphs with the
    watched layer recorded, against the CPU's ``generate`` with its own attention: both in
    float32, the same tokens and the same times (to one audio token, 0.08 s)."""
    import json

    import numpy as np

    from tests.listener_speech import LISTENER

    with np.load(path) as data:
        texts = json.loads(str(data["texts"]))
        sets = [
            [data[f"s{k}c{j}"].astype(np.float32) / 32767 for j in range(len(refs))]
            for k, refs in enumerate(texts)
        ]
    gap = np.zeros(8000, np.float32)
    rows = []
    for clips in sets:
        for pick in (clips[0:2], clips[2:5]):
            rows.append(np.concatenate([p for c in pick for p in (c, gap)][:-1]))
    decoded = {}
    captured = 0
    for device in ("cuda", "cpu"):
        engine = Engine(EngineOptions(model=str(LISTENER), device=device, dtype="fp32"))
        engine.load()
        try:
            decoded[device] = engine.decode_batch(rows, heard=True)
            if device == "cuda":
                captured = engine._decoders.get(engine.model).captured
        finally:
            engine.unload()
    same = [a.ids == b.ids for a, b in zip(decoded["cuda"], decoded["cpu"], strict=True)]
    diffs = [
        abs(x - y)
        for a, b, ok in zip(decoded["cuda"], decoded["cpu"], same, strict=True)
        if ok
        for x, y in zip(a.heard, b.heard, strict=True)
    ]
    recorded = all(len(d.heard) == len(d.ids) for d in decoded["cuda"])
    close = sum(d <= 0.08 + 1e-6 for d in diffs)
    said = (
        f"{len(rows)} rows; graphs captured {captured}; the same tokens in {sum(same)}/"
        f"{len(rows)}; times recorded for every token: {recorded}; within 0.08 s "
        f"{close}/{len(diffs)}, largest difference {max(diffs, default=0.0):.3f} s"
    )
    ok = recorded and captured > 0 and all(same) and close == len(diffs)
    return ok, said


def out_of_memory(engine: Engine, audios: list[Any], batch: int) -> tuple[bool, str]:
    import torch

    torch.cuda.empty_cache()
    torch.cuda.synchronize()
    total = torch.cuda.get_device_properties(0).total_memory
    used = torch.cuda.memory_allocated()
    per_chunk = model_loader.chunk_memory_bytes(engine.model.config, 2, tokens_per_second=4.0)
    allowed = used + per_chunk * max(2, batch // 8)  # room for about an eighth of the batch
    torch.cuda.set_per_process_memory_fraction(min(1.0, allowed / total))
    capped = engine.with_options(batch_size=batch)
    try:
        started = time.perf_counter()
        results = capped.decode_batch(audios[:batch])
        wall = time.perf_counter() - started
        settled = capped._batch_cap
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
        torch.cuda.empty_cache()
    if not settled:
        return False, f"a batch of {batch} fit in {allowed / 2**30:.1f} GiB: no halving seen"
    reference = [
        d
        for start in range(0, batch, settled)
        for d in engine.decode_batch(audios[start : min(batch, start + settled)])
    ]
    same = [a.ids == b.ids for a, b in zip(results, reference, strict=True)]
    ok = len(results) == batch and all(same)
    return ok, (
        f"cap {allowed / 2**30:.1f} GiB: a batch of {batch} halved to {settled} without an "
        f"error in {wall:.1f} s; {len(results)} results; the same tokens as uncapped "
        f"batches of {settled}: {sum(same)}/{len(same)}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path)
    parser.add_argument("--listener-clips", type=Path, help="an .npz from --make-listener-clips")
    parser.add_argument("--make-listener-clips", type=Path, metavar="NPZ")
    parser.add_argument("--listener-sets", type=int, default=4, help="of 5 sentences each")
    parser.add_argument("--chunks", type=int, default=256)
    parser.add_argument("--sizes", default="64,256,512")
    parser.add_argument("--alone", type=int, default=16, help="chunks for batched vs alone")
    parser.add_argument("--oom-batch", type=int, default=64)
    parser.add_argument("--graph-chunks", type=int, default=64)
    parser.add_argument("--encoder-layers", type=int)
    parser.add_argument("--decoder-layers", type=int)
    parser.add_argument(
        "--only",
        help="these checks alone, comma-separated: graphs,listener,heard,oom,sweep,alone",
    )
    parser.add_argument(
        "--deterministic",
        action="store_true",
        help="cuBLAS with a fixed workspace (CUBLAS_WORKSPACE_CONFIG=:4096:8) and PyTorch's "
        "deterministic algorithms: whether runs that differ in a few rows still do",
    )
    args = parser.parse_args(argv)
    if args.make_listener_clips:
        make_listener_clips(args.make_listener_clips, args.listener_sets)
        return 0
    if args.media is None:
        parser.error("--media is needed")

    if args.deterministic:  # before CUDA starts
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"
    import torch

    if not torch.cuda.is_available():
        print("CUDA is not available here", file=sys.stderr)
        return 2
    if args.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    wanted = set((args.only or "graphs,listener,heard,oom,sweep,alone").split(","))
    engine_module.max_new_tokens_for = _forced  # type: ignore[assignment]
    started = time.perf_counter()
    model, processor = rtf.build_model("bf16", "cuda", args.encoder_layers, args.decoder_layers)
    engine = Engine(
        EngineOptions(device="cuda", dtype="bf16", tokens_per_second=4.0, repetition_guard=False)
    )
    engine.adopt(model, processor, device_info_for("cuda", "bf16"))
    print(f"model built on {torch.cuda.get_device_name()} in {time.perf_counter() - started:.1f} s")
    audios = rtf.first_chunks(engine, args.media, args.chunks)
    lengths = sorted(len(a) / 16000 for a in audios)
    print(
        f"{len(audios)} chunks of {args.media.name}: {sum(lengths):.0f} s, median "
        f"{lengths[len(lengths) // 2]:.1f} s, longest {lengths[-1]:.1f} s",
        flush=True,
    )
    verdicts: list[tuple[str, bool, str]] = []

    def check(name: str, run: Any) -> None:
        """One check; its failure (an exception too) is a result, and the next runs."""
        try:
            ok, said = run()
        except Exception as exc:
            traceback.print_exc()
            ok, said = False, repr(exc)[:300]
        verdicts.append((name, ok, said))
        print(f"{'PASS' if ok else 'FAIL'} {name}: {said}", flush=True)

    if "graphs" in wanted:
        check("CUDA graphs", lambda: graphs(engine, audios[: args.graph_chunks]))
    if args.listener_clips and "listener" in wanted:
        check("the listener on CUDA", lambda: listener(args.listener_clips))
    if args.listener_clips and "heard" in wanted:
        check("where tokens were heard, on CUDA graphs", lambda: heard(args.listener_clips))
    if "oom" in wanted:
        check("out of memory halves", lambda: out_of_memory(engine, audios, args.oom_batch))
    sizes = [int(size) for size in args.sizes.split(",")]
    if "sweep" in wanted:
        check("batch sweep", lambda: (bool(sweep(engine, audios, sizes)), "see the table"))
    if "alone" in wanted:
        check(
            "batched vs alone",
            lambda: (True, batched_against_alone(engine, audios[: args.alone])),
        )
    print()
    for name, ok, said in verdicts:
        print(f"{'PASS' if ok else 'FAIL'} {name}: {said}")
    return 0 if all(ok for _, ok, _ in verdicts) else 1


if __name__ == "__main__":
    raise SystemExit(main())
