"""End-to-end real-time factor on the real GLM-ASR architecture, through the app's pipeline.

The model is ``GlmAsrConfig()`` with its defaults (2.14 B parameters: 32-layer Whisper-like
encoder, 28-layer Llama decoder, vocabulary 59,264) with random weights, built in memory
and handed to an :class:`~app.core.asr.engine.Engine` (``Engine.adopt``): saving and
reloading 4 GiB of random weights would only time the disk. The processor is the real one
(Whisper features, 128 mel bins, 30 s windows) with a stand-in word-level tokenizer of the
real vocabulary size.

A random model never says "end": its end-of-text rows are zeroed, so every chunk decodes
to the token limit, which is patched to ``ceil(4 x seconds of speech in the chunk)``: 4 text
tokens per second of speech, like a real transcript (``--tokens-per audio``: 4 per second of
the audio handed to the model, pauses and packing gaps included, as measured before).

The input is espeak-ng speech with natural pauses (0.3-2.5 s between sentences), made once
and cached. ``app.core.pipeline.transcribe_file`` runs it, and the time is split with
wrappers and forward hooks into decode, speech detection, features, encoder (+ projector),
prefill and decoding steps.

Usage::

    python benchmarks/rtf.py --minutes 5                    # the issue's figure (several min)
    python benchmarks/rtf.py --minutes 1 --pack off         # cut at every pause instead
    python benchmarks/rtf.py --minutes 1 --unsure decode    # random attention's cost
    python benchmarks/rtf.py --minutes 1 --precision int8   # dynamic int8 Linear layers
    python benchmarks/rtf.py --minutes 1 --encoder-layers 4 --decoder-layers 4  # quicker
    python benchmarks/rtf.py --device cuda --minutes 60
    python benchmarks/rtf.py --media speech-60min.mp3 --verdict placed --first-segment
    python benchmarks/rtf.py --device cuda --media speech.mp3 --split off  # wall only
    python benchmarks/rtf.py --device cuda --media speech.mp3 --graphs off # generate
    python benchmarks/rtf.py --device cuda --media speech.mp3 --prefetch off # inputs in line
    python benchmarks/rtf.py --device cuda --media speech.mp3 --compile --split off
    python benchmarks/rtf.py --device cuda --media speech.mp3 --max-batch 256
    python benchmarks/rtf.py --minutes 1 --encoder-layers 4 --decoder-layers 4 \\
        --batch-sweep 1,2,4,8,16                            # per-chunk time by batch size

The last line is ``RTF <x>`` (wall time of ``transcribe_file`` over the audio's length).
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import app.core.asr.engine as engine_module  # noqa: E402
import app.core.audio.stretches as stretches  # noqa: E402
import app.core.pipeline as pipeline_module  # noqa: E402
from app.core.asr.engine import Engine, EngineOptions  # noqa: E402
from app.core.asr.model_loader import device_info_for  # noqa: E402
from app.core.audio.chunking import ChunkOptions  # noqa: E402
from app.core.events import ChunkTranscribed, Finished, SpeechFound  # noqa: E402
from app.core.pipeline import PipelineOptions, transcribe_file  # noqa: E402
from app.core.transcript.cues import share_text  # noqa: E402
from tests.tiny_model import CHAT_TEMPLATE, SPECIAL_TOKENS  # noqa: E402

TOKENS_PER_SECOND = 4.0
SPECIALS = tuple(SPECIAL_TOKENS)  # GLM-ASR's special tokens, end-of-text first


def build_processor(vocab_size: int) -> Any:
    """The real GLM-ASR processor with a word-level tokenizer of ``vocab_size`` entries."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GlmAsrProcessor, PreTrainedTokenizerFast, WhisperFeatureExtractor

    words = ["Please", "transcribe", "this", "audio", "into", "text"]
    names = ["<unk>", *words]
    names += [f"w{i}" for i in range(vocab_size - len(names) - len(SPECIALS))]
    names += SPECIALS
    core = Tokenizer(models.WordLevel({t: i for i, t in enumerate(names)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        unk_token="<unk>",
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=list(SPECIALS[1:]),
        padding_side="left",
        chat_template=CHAT_TEMPLATE,
    )
    features = WhisperFeatureExtractor(
        feature_size=128, sampling_rate=16000, hop_length=160, chunk_length=30, n_fft=400
    )
    return GlmAsrProcessor(
        feature_extractor=features,
        tokenizer=tokenizer,
        chat_template=CHAT_TEMPLATE,
        audio_token="<|pad|>",
    )


def build_model(
    dtype: str, device: str, encoder_layers: int | None, decoder_layers: int | None
) -> tuple[Any, Any]:
    """``GlmAsrConfig()`` defaults with random weights, its EOS rows zeroed; and processor."""
    import torch
    from transformers import GlmAsrConfig, GlmAsrForConditionalGeneration

    config = GlmAsrConfig()
    if encoder_layers:
        config.audio_config.num_hidden_layers = encoder_layers
    if decoder_layers:
        config.text_config.num_hidden_layers = decoder_layers
    processor = build_processor(config.text_config.vocab_size)
    tok = processor.tokenizer
    eos = [tok.convert_tokens_to_ids(t) for t in ("<|endoftext|>", "<|user|>", "<|observation|>")]
    config.audio_token_id = tok.convert_tokens_to_ids("<|pad|>")
    config.text_config.eos_token_id = eos
    config.text_config.pad_token_id = tok.pad_token_id
    config.text_config.bos_token_id = None
    weights_dtype = torch.float32 if dtype == "fp32" else torch.bfloat16
    previous = torch.get_default_dtype()
    torch.set_default_dtype(weights_dtype)
    try:
        torch.manual_seed(0)
        # drawn where it runs: on a GPU, 2.1 B random numbers take a moment, not a minute
        with torch.device("cpu" if dtype == "int8" else device):
            model = GlmAsrForConditionalGeneration(config).eval()
    finally:
        torch.set_default_dtype(previous)
    with torch.no_grad():
        for head in {id(m): m for m in (model.get_output_embeddings(),)}.values():
            head.weight[eos] = 0.0  # random logits never pick "end": full-length output
    model.generation_config.eos_token_id = eos
    model.generation_config.pad_token_id = tok.pad_token_id
    if dtype == "int8":
        from app.core.asr.model_loader import quantize_int8

        model = quantize_int8(model)
    return model.to(device), processor


def make_speech(minutes: float, cache: Path) -> Path:
    """Held-out-style espeak sentences with pauses of 0.3-2.5 s, about ``minutes`` long."""
    from tests.listener_speech import spaced_track

    out = cache / f"rtf-speech-{minutes:g}min-3s"
    wav = out / "track.wav"
    if wav.exists():
        return wav
    out.mkdir(parents=True, exist_ok=True)
    sentences = max(2, round(minutes * 60 / 3.0))
    track = spaced_track(out, 14_000, sentences, (0.3, 2.5), (3, 10))
    return track.path


class Timers:
    """Wall time per component, from wrapped functions and forward hooks."""

    def __init__(self, sync: Any) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)
        self.sync = sync
        self._open: dict[str, float] = {}

    def wrap(self, name: str, fn: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - t
                self.counts[name] += 1

        return timed

    def hook(self, module: Any, name_of: Any) -> None:
        capturing = _capturing()

        def pre(_m: Any, args: Any, kwargs: Any) -> None:
            if capturing():  # a CUDA graph being captured: no sync (replays run no hook)
                return
            self.sync()
            self._open[name_of(args, kwargs)] = time.perf_counter()

        def post(_m: Any, args: Any, kwargs: Any, _out: Any) -> None:
            if capturing():
                return
            self.sync()
            name = name_of(args, kwargs)
            self.seconds[name] += time.perf_counter() - self._open.pop(name)
            self.counts[name] += 1

        module.register_forward_pre_hook(pre, with_kwargs=True)
        module.register_forward_hook(post, with_kwargs=True)


def _capturing() -> Any:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.is_current_stream_capturing
    return lambda: False


def _seq_len(args: Any, kwargs: Any) -> int:
    for key in ("inputs_embeds", "input_ids"):
        value = kwargs.get(key)
        if value is not None:
            return int(value.shape[1])
    return int(args[0].shape[1]) if args else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--media", type=Path, help="any media file instead of generated speech")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--precision", default="bf16", choices=("bf16", "fp16", "fp32", "int8"))
    parser.add_argument("--batch", type=int, default=0, help="0 = the engine's default")
    parser.add_argument(
        "--max-batch",
        type=int,
        default=0,
        help="CUDA: the cap on the batch the engine sizes from free memory "
        "(model_loader.CUDA_MAX_BATCH; 0 = the app's)",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="CUDA: decoding steps on a static cache, compiled (EngineOptions.compile)",
    )
    parser.add_argument(
        "--graphs",
        default="on",
        choices=("on", "off"),
        help="CUDA: decoding steps replayed from CUDA graphs (EngineOptions.cuda_graphs, "
        "the default), or transformers' generate (off, the baseline)",
    )
    parser.add_argument(
        "--first-segment",
        action="store_true",
        help="stop at the first transcribed segment and print when it came (the time to "
        "the first text of a long file, without transcribing all of it)",
    )
    parser.add_argument(
        "--detector",
        choices=("auto", "apart", "together"),
        default="auto",
        help="files of 10 min or more: speech detection in a process of its own beside the "
        "decoding one (apart), in the decoding process (together), or by the core count "
        "(auto: pipeline.DETECTOR_PROCESS_CPUS)",
    )
    parser.add_argument(
        "--long-first-group",
        type=int,
        default=0,
        help="the first group of a long file on a CPU (pipeline._FIRST_GROUP_LONG_CPU; "
        "0 = the app's; 1000 = a whole batch, as before 2026-12-01)",
    )
    parser.add_argument(
        "--prefetch",
        default="auto",
        choices=("auto", "on", "off"),
        help="the next batch's inputs built on a helper thread while the device decodes "
        "(EngineOptions.prefetch; auto: on a GPU, not on a CPU)",
    )
    parser.add_argument(
        "--split",
        default="on",
        choices=("on", "off"),
        help="time the model's parts with forward hooks (on a GPU they synchronise twice a "
        "step, and a compiled graph can't hold them: off times the wall only)",
    )
    parser.add_argument(
        "--pack",
        default="auto",
        choices=("auto", "on", "off", "both"),
        help="auto: as the app decides (packed where the decoder's attention is recorded: a CPU, "
        "a GPU); both: off, then on",
    )
    parser.add_argument("--encoder-layers", type=int, help="fewer layers, for quick looks")
    parser.add_argument("--decoder-layers", type=int, help="fewer layers, for quick looks")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument(
        "--tokens-per",
        default="speech",
        choices=("speech", "audio"),
        help="force 4 tokens per second of speech in each chunk, or of its audio",
    )
    parser.add_argument(
        "--attention",
        default="murmur",
        choices=("murmur", "sdpa"),
        help="on CPU: app.core.asr.cpu_attention (the default), or plain SDPA (baseline)",
    )
    parser.add_argument(
        "--encoder-windows",
        type=int,
        default=EngineOptions().encoder_windows,
        help="on CPU: windows the audio encoder runs at a time (default: sized to the caches, "
        "1 for GLM-ASR-Nano; 0: the whole batch, the baseline)",
    )
    parser.add_argument(
        "--prefill",
        default="rows",
        choices=("rows", "padded"),
        help="on CPU: the prefill row by row without the batch's padding (the default), or "
        "the padded batch at once (the baseline)",
    )
    parser.add_argument(
        "--widen",
        default="auto",
        choices=("auto", "on", "off"),
        help="on CPU: a bf16 model's products in float32 where the CPU has no bf16 "
        "instructions (auto, the app's way), always, or never (the baseline: native bf16)",
    )
    parser.add_argument(
        "--pad",
        default="on",
        choices=("on", "off"),
        help="on CPU, widened products: a decoding step's rows padded to a multiple of 16 "
        "(on, the app's way) or not (the baseline before 2026-12-01)",
    )
    parser.add_argument(
        "--unsure",
        default="share",
        choices=("share", "decode"),
        help="packed windows whose attention does not place their words (random weights: "
        "nearly all): share their text by speaking time, as a trained model's attention would "
        "cut it at no cost (the path timed for --pack on), or decode their pieces one by one "
        "as the app does (the cost for a model whose attention says nothing)",
    )
    parser.add_argument(
        "--fill",
        type=float,
        default=ChunkOptions().pack_fill,
        help="packed windows filled to at most this share (ChunkOptions.pack_fill)",
    )
    parser.add_argument(
        "--verdict",
        default="unknown",
        choices=("unknown", "placed"),
        help="whether the engine knows yet that the model places the words of packed "
        "windows: unknown (the first file: a first group of 4 windows tells) or placed",
    )
    parser.add_argument(
        "--batch-sweep",
        metavar="SIZES",
        help="time the engine alone on the same chunks at each batch size (e.g. 1,2,4,8,16)",
    )
    parser.add_argument("--sweep-chunks", type=int, default=16, help="chunks per sweep point")
    parser.add_argument(
        "--int8-agreement",
        action="store_true",
        help="decode the first --sweep-chunks chunks in bf16, then the same weights in int8: "
        "time and token agreement",
    )
    parser.add_argument(
        "--plan-only",
        action="store_true",
        help="no model: the windows the media would take cut at pauses and packed (their "
        "count, median and total audio), as the app plans them for a 30 s window",
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "murmur-bench"
    )
    args = parser.parse_args(argv)
    if args.plan_only:
        return plan_only(args.media or make_speech(args.minutes, args.cache_dir), args.fill)

    import torch

    media = args.media or make_speech(args.minutes, args.cache_dir)
    cuda = args.device == "cuda"
    if cuda and not torch.cuda.is_available():
        print("CUDA is not available here", file=sys.stderr)
        return 2
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    if not cuda:
        torch.set_num_threads(args.threads or len(os.sched_getaffinity(0)))
    t = time.perf_counter()
    model, processor = build_model(
        args.precision, args.device, args.encoder_layers, args.decoder_layers
    )
    build_s = time.perf_counter() - t
    rss_model = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    timers = Timers(sync)
    inner = model.model if hasattr(model, "model") else model
    if args.split == "on" and not args.compile:
        timers.hook(inner.audio_tower, lambda a, k: "encoder")
        timers.hook(inner.multi_modal_projector, lambda a, k: "projector")
        timers.hook(
            inner.language_model,
            lambda a, k: "prefill" if _seq_len(a, k) > 1 else "decoding steps",
        )
    if args.long_first_group:
        pipeline_module._FIRST_GROUP_LONG_CPU = args.long_first_group  # type: ignore[attr-defined]
    if args.detector != "auto":  # speech detection beside decoding in a process of its own?
        pipeline_module.DETECTOR_PROCESS_CPUS = 1 if args.detector == "apart" else 1 << 20
    if args.max_batch:
        import app.core.asr.model_loader as model_loader

        model_loader.CUDA_MAX_BATCH = args.max_batch
    # decoding and speech detection run on the producer thread, beside the model
    stretches.decode_audio = timers.wrap("decode", stretches.decode_audio)  # type: ignore[assignment]
    stretches.detect_speech = timers.wrap("speech detection", stretches.detect_speech)  # type: ignore[assignment]
    # the processor's work for a batch: on the model's thread, or beside it on the helper
    # thread that builds the next batch's inputs (--prefetch)
    engine_module._host_inputs = timers.wrap("features", engine_module._host_inputs)  # type: ignore[assignment]
    from app.core.asr.static_decode import StaticDecoder

    # with CUDA graphs the steps run no hook: their time is the static decoder's less
    # the encoder, projector and prefill it ran
    StaticDecoder.generate = timers.wrap("static", StaticDecoder.generate)  # type: ignore[method-assign]

    if args.pad == "off":
        from app.core.asr import cpu_half

        cpu_half._PAD_BELOW = 0  # type: ignore[attr-defined]
    info = device_info_for(args.device, "bf16" if args.precision == "int8" else args.precision)
    engine = Engine(
        EngineOptions(
            device=args.device,
            dtype=info.dtype,
            batch_size=args.batch,
            tokens_per_second=TOKENS_PER_SECOND,
            repetition_guard=False,
            cpu_attention=args.attention == "murmur",
            encoder_windows=args.encoder_windows,
            prefill_rows=args.prefill == "rows",
            widen_half={"auto": None, "on": True, "off": False}[args.widen],
            compile=args.compile,
            cuda_graphs=args.graphs == "on",
            prefetch=None if args.prefetch == "auto" else args.prefetch == "on",
        )
    )
    engine.adopt(model, processor, info)
    if args.verdict == "placed":  # a later file: the engine already knows the model places
        from app.core.asr.placement import MIN_WINDOWS, Placement

        engine.placement = Placement(placed=MIN_WINDOWS)
    # exactly 4 tokens per second of speech in the chunk (or of its audio)
    speech_by_samples: dict[int, float] = {}
    plain_chunk_audio = pipeline_module.chunk_audio

    def chunk_audio(samples: Any, rate: int, chunk: Any) -> Any:
        audio = plain_chunk_audio(samples, rate, chunk)
        speech_by_samples[len(audio)] = chunk.speech_seconds
        return audio

    def forced_tokens(seconds: float, _rate: float = 0.0) -> int:
        if args.tokens_per == "speech":
            seconds = speech_by_samples.get(round(seconds * 16000), seconds)
        return max(1, math.ceil(seconds * TOKENS_PER_SECOND))

    pipeline_module.chunk_audio = chunk_audio  # type: ignore[assignment]
    engine_module.max_new_tokens_for = forced_tokens  # type: ignore[assignment]
    unsure: list[int] = []  # packed windows whose attention did not place their words
    heard_parts = pipeline_module._Transcription._heard_parts

    def heard_or_shared(self: Any, chunk: Any, decoded: Any) -> list[str] | None:
        parts = heard_parts(self, chunk, decoded)
        if parts is None and chunk.packed and decoded.gaze is not None:
            unsure.append(chunk.index)
            if args.unsure == "share":  # as if placed (and counted so by the engine)
                spoken = [sum(r.end - r.start for r in rs) for rs in chunk.piece_regions()]
                return share_text(decoded.text, spoken)
        return parts  # None: the app's fallback, then its learned verdict

    pipeline_module._Transcription._heard_parts = heard_or_shared  # type: ignore[method-assign]
    if args.batch_sweep:
        return batch_sweep(engine, media, args, [int(b) for b in args.batch_sweep.split(",")])
    if args.int8_agreement:
        return int8_agreement(engine, model, processor, media, args)
    modes = ["off", "on"] if args.pack == "both" else [args.pack]
    for mode in modes:
        pack = {"auto": None, "on": True, "off": False}[mode]
        options = PipelineOptions(chunks=replace(ChunkOptions(), pack=pack, pack_fill=args.fill))
        timers.seconds.clear()
        timers.counts.clear()
        unsure.clear()
        if cuda:
            torch.cuda.reset_peak_memory_stats()

        chunk_audio_s: list[float] = []
        tokens = 0
        found: SpeechFound | None = None
        duration = 0.0
        started = time.perf_counter()
        first_segment: float | None = None
        shown = 0.0
        for event in transcribe_file(media, engine, options):
            if isinstance(event, SpeechFound):
                found = event
            elif isinstance(event, ChunkTranscribed):
                now = time.perf_counter() - started
                if first_segment is None:
                    first_segment = shown = now
                    if args.first_segment:
                        print(
                            f"first segment after {now:.1f} s: {event.end - event.start:.1f} s "
                            f"of audio at {event.start:.1f} s; load average "
                            f"{os.getloadavg()[0]:.2f}"
                        )
                        break
                if now - shown >= 10.0:  # where a run cut short by a time limit got to
                    shown = now
                    print(
                        f"after {now:.0f} s: {len(chunk_audio_s)} chunks, up to "
                        f"{event.end:.0f} s of the audio",
                        flush=True,
                    )
                tokens += len(event.text.split())
                chunk_audio_s.append(event.end - event.start)
            elif isinstance(event, Finished):
                duration = event.transcript.meta.duration
        if args.first_segment:
            continue
        wall = time.perf_counter() - started
        rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        rtf = wall / duration
        if timers.counts["static"] and args.split == "on":
            inside = sum(timers.seconds[k] for k in ("encoder", "projector", "prefill"))
            timers.seconds["decoding steps"] = timers.seconds["static"] - inside
            timers.counts["decoding steps"] = timers.counts["static"]  # batches, here
        rows = [
            (name, timers.seconds[name], timers.counts[name])
            for name in (
                "decode",
                "speech detection",
                "features",
                "encoder",
                "projector",
                "prefill",
                "decoding steps",
            )
        ]
        beside = engine._prefetching()  # then the features ran beside the model
        other = wall - sum(s for name, s, _ in rows if not (beside and name == "features"))
        if beside:
            rows = [(f"{n} (beside)" if n == "features" else n, s, c) for n, s, c in rows]
        speech_s = found.speech_seconds if found else 0.0
        windows = {0: "the whole batch", None: "auto"}.get(
            args.encoder_windows, args.encoder_windows
        )
        widened = sum(hasattr(m, "_murmur_widened") for m in model.modules())
        print(f"media: {media} ({duration:.1f} s, speech {speech_s:.1f} s)")
        print(
            f"model: GlmAsrConfig() random weights, {args.precision}, {args.device}"
            + (f", encoder layers {args.encoder_layers}" if args.encoder_layers else "")
            + (f", decoder layers {args.decoder_layers}" if args.decoder_layers else "")
            + f"; built in {build_s:.1f} s; threads {torch.get_num_threads()}"
            + f"; encoder windows at a time: {windows}; prefill {args.prefill}"
            + f"; products widened to float32 in {widened} modules (--widen {args.widen})"
        )
        print(
            f"chunks: {found.chunks if found else 0} (pack {mode}), batch {engine.batch_size}, "
            f"tokens out {tokens} ({tokens / max(speech_s, 1e-9):.1f} per second of speech, "
            f"forced per second of {args.tokens_per}); attention {args.attention}"
        )
        if unsure:
            print(
                f"packed windows whose attention did not place their words: {len(unsure)} "
                + (
                    "(decoded again piece by piece; the engine's verdict on placing: "
                    f"{engine.placement.verdict})"
                    if args.unsure == "decode"
                    else "(text shared by speaking time, at no cost: --unsure share)"
                )
            )
        if cuda:
            import transformers

            print(
                f"GPU: {torch.cuda.get_device_name()}; torch {torch.__version__}; "
                f"transformers {transformers.__version__}; "
                f"compile {args.compile}; CUDA graphs {args.graphs}; split {args.split}; "
                f"prefetch {args.prefetch}"
            )
        print(f"load average: {os.getloadavg()[0]:.2f}")
        print()
        print(f"| {'part':<17} | {'seconds':>8} | {'share':>6} | {'calls':>6} |")
        print(f"|{'-' * 19}|{'-' * 10}|{'-' * 8}|{'-' * 8}|")
        for name, seconds, count in [*rows, ("other", other, 0)]:
            print(f"| {name:<17} | {seconds:8.2f} | {seconds / wall:6.1%} | {count:6d} |")
        print(f"| {'total (wall)':<17} | {wall:8.2f} | {1:6.1%} | {'':>6} |")
        print()
        if first_segment is not None:
            print(f"first segment after {first_segment:.1f} s")
        if engine._prefetching():
            print(f"batches whose inputs the helper thread built: {engine._prefetch.built}")
        print(f"peak RSS {rss_peak:.0f} MB (after building the model: {rss_model:.0f} MB)")
        if cuda:
            print(f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MB")
        print(f"speed {1 / rtf:.2f}x real time")
        print(f"RTF {rtf:.3f}")
    return 0


def plan_only(media: Path, fill: float) -> int:
    """Print the windows ``media`` takes cut at pauses and packed (no model)."""
    from app.core.audio.chunking import make_chunks
    from app.core.audio.media import decode_audio
    from app.core.audio.vad import detect_speech

    samples = decode_audio(media).samples
    duration = len(samples) / 16000
    regions = detect_speech(samples)
    speech = sum(r.end - r.start for r in regions)
    print(f"{media.name}: {duration:.1f} s of audio, {speech:.1f} s of speech")
    for pack in (False, True):
        options = replace(ChunkOptions(), pack=pack, pack_fill=fill)
        chunks = make_chunks(regions, options, duration, samples=samples)
        seconds = sorted(c.audio_seconds for c in chunks)
        median = seconds[len(seconds) // 2] if seconds else 0.0
        print(
            f"{'packed' if pack else 'cut at pauses'}: {len(chunks)} windows, median "
            f"{median:.1f} s, {sum(seconds):.0f} s of audio in them"
        )
    return 0


def first_chunks(engine: Engine, media: Path, count: int) -> list[np.ndarray]:
    """The audio of the first ``count`` chunks of ``media``, cut as the pipeline cuts."""
    from app.core.audio.chunking import chunk_audio, make_chunks
    from app.core.audio.media import decode_audio
    from app.core.audio.vad import detect_speech

    audio = decode_audio(media)
    regions = detect_speech(audio.samples, audio.sample_rate)
    window = engine.window_seconds or 30.0
    chunks = make_chunks(regions, ChunkOptions(max_chunk_s=window), samples=audio.samples)
    return [np.array(chunk_audio(audio.samples, audio.sample_rate, c)) for c in chunks[:count]]


def int8_agreement(
    engine: Engine, model: Any, processor: Any, media: Path, args: argparse.Namespace
) -> int:
    """The same chunks decoded by the same weights in bf16, then as dynamic int8."""
    from app.core.asr.model_loader import quantize_int8

    audios = first_chunks(engine, media, args.sweep_chunks)
    seconds = sum(len(a) for a in audios) / 16000
    print(f"{len(audios)} chunks, {seconds:.1f} s of audio; load {os.getloadavg()[0]:.2f}")
    started = time.perf_counter()
    reference = engine.decode_batch(audios)
    bf16_s = time.perf_counter() - started
    quantized = Engine(replace(engine.options, dtype="int8"))
    quantized.adopt(quantize_int8(model), processor, device_info_for("cpu", "int8"))
    started = time.perf_counter()
    other = quantized.decode_batch(audios)
    int8_s = time.perf_counter() - started
    same = total = prefix = 0
    for a, b in zip(reference, other, strict=True):
        total += len(a.ids)
        pairs = list(zip(a.ids, b.ids, strict=False))
        same += sum(x == y for x, y in pairs)
        prefix += next((k for k, (x, y) in enumerate(pairs) if x != y), len(a.ids))
    print(f"bf16: {bf16_s:.1f} s; int8: {int8_s:.1f} s ({bf16_s / int8_s:.2f}x bf16's speed)")
    print(
        f"tokens: {total}; int8 gives the same token at the same place for {same / total:.1%};"
        f" the common start before the first difference is {prefix / total:.1%} of them"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


def batch_sweep(engine: Engine, media: Path, args: argparse.Namespace, sizes: list[int]) -> int:
    """Per-chunk time of ``Engine.transcribe`` on the same chunks at each batch size."""
    audios = first_chunks(engine, media, args.sweep_chunks)
    seconds = sum(len(a) for a in audios) / 16000
    print(
        f"batch sweep: {len(audios)} chunks, {seconds:.1f} s of audio; {args.precision}, "
        f"{args.device}, encoder layers {args.encoder_layers or 'all'}, decoder layers "
        f"{args.decoder_layers or 'all'}; load average {os.getloadavg()[0]:.2f}"
    )
    versus = f"vs batch {sizes[0]}"
    print(f"| {'batch':>5} | {'wall s':>8} | {'per chunk s':>11} | {versus:>11} |")
    print(f"|{'-' * 7}|{'-' * 10}|{'-' * 13}|{'-' * 13}|")
    first = None
    for size in sizes:
        sized = engine.with_options(batch_size=size)
        started = time.perf_counter()
        for _ in sized.transcribe(audios):
            pass
        wall = time.perf_counter() - started
        per = wall / len(audios)
        first = first or per
        print(f"| {size:5d} | {wall:8.2f} | {per:11.3f} | {first / per:10.2f}x |", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
