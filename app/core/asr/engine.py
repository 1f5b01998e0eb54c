"""GLM-ASR speech recognition: batched greedy decoding of speech chunks.

``Engine.load`` finds the model (hub id or folder, see :mod:`app.core.asr.model_loader`),
picks the device and dtype and loads model and processor. ``Engine.transcribe`` decodes
chunks grouped by length, in batches with left padding, and decodes a chunk that fell into
a repetition loop again with anti-repetition settings. A set ``cancel`` event stops
generation within one decoding step. torch and transformers are imported lazily.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from app.core.asr.model_loader import (
    DEFAULT_MODEL_ID,
    batch_size_for_memory,
    checkpoint_bytes,
    choose_device,
    default_batch_size,
    default_threads,
    load_model,
    resolve_model,
)
from app.core.asr.placement import Placement
from app.core.asr.prefetch import InputPrefetch
from app.core.asr.repetition import is_looping, trim_loop
from app.core.asr.static_decode import LENGTH_STEP
from app.core.errors import Cancelled, MediaError, ModelError
from app.core.events import DeviceInfo, DownloadProgress
from app.core.hold import hold

log = logging.getLogger(__name__)

__all__ = [
    "ANTI_REPETITION",
    "DEFAULT_MODEL_ID",
    "SAMPLE_RATE",
    "Decoded",
    "Engine",
    "EngineOptions",
    "build_prompt",
    "choose_device",
    "max_new_tokens_for",
]

SAMPLE_RATE = 16000
MIN_SAMPLES = SAMPLE_RATE // 4  # shorter audio is padded with silence (0.25 s)
MAX_CONTEXT_CHARS = 400
ANTI_REPETITION: dict[str, Any] = {"repetition_penalty": 1.2, "no_repeat_ngram_size": 6}
_SPECIAL = re.compile(r"<\|[^<>|]*\|>")

StepHook = Callable[[int], None]


@dataclass(frozen=True)
class EngineOptions:
    model: str = DEFAULT_MODEL_ID  # hub id or local folder
    device: str = "auto"  # auto | cuda | mps | cpu
    dtype: str = "auto"  # auto | bf16 | fp16 | fp32
    batch_size: int = 0  # 0 = pick from device
    context: str = ""  # names / hot words added to the prompt
    tokens_per_second: float = 8.0  # max_new_tokens = 16 + ceil(duration * this)
    repetition_guard: bool = True
    threads: int = 0  # torch CPU threads; 0 = the cores this process may use
    # CPU: the decoder's decoding steps use app.core.asr.cpu_attention (False: plain SDPA,
    # the baseline of the benchmarks)
    cpu_attention: bool = True
    # CPU: the audio encoder runs this many windows of a batch at a time (None: groups
    # sized to the caches, one window of GLM-ASR-Nano's; 0: the whole batch at once, the
    # baseline of the benchmarks); app.core.asr.cpu_encoder
    encoder_windows: int | None = None
    # CPU: the text decoder's prefill runs row by row without the batch's left padding
    # (False: the padded batch at once, the baseline); app.core.asr.cpu_prefill
    prefill_rows: bool = True
    # CPU: a bf16 or fp16 model's products in float32 where the CPU has no instructions
    # for them (None), always (True: tests), never (False: the baseline of the
    # benchmarks); app.core.asr.cpu_half
    widen_half: bool | None = None
    # CUDA: decoding steps on a static KV cache, compiled by torch.compile into CUDA graphs
    # (transformers' generate compiles them). The first batch of each size waits for the
    # compiler; ignored on other devices. See benchmarks/README.md for what it gives.
    compile: bool = False
    # CUDA: greedy decoding on a static cache with each step replayed from a CUDA graph
    # (app.core.asr.static_decode; the same tokens as generate). False: transformers'
    # generate, the baseline of the benchmarks. Not with ``compile``.
    cuda_graphs: bool = True
    # The next batch's inputs (padding, log-mel features, prompt tokens) built on a helper
    # thread while the device decodes this batch (app.core.asr.prefetch). None: on a GPU
    # (CUDA, MPS), not on a CPU, whose cores the model's threads already use.
    prefetch: bool | None = None


@dataclass(frozen=True)
class Decoded:
    """One decoded chunk: its text, its generated token ids (without EOS) and whether it
    ran into its token limit instead of ending."""

    text: str
    ids: tuple[int, ...]
    hit_limit: bool
    # Seconds into the chunk's audio where each token was heard (the last decoder layer's
    # attention, app.core.asr.cpu_attention.AudioGaze); empty where not recorded (not on
    # the CPU attention).
    heard: tuple[float, ...] = ()
    # The attention behind ``heard``: for each token, the share of that attention on each
    # of the chunk's audio tokens (float32, tokens x audio tokens, rows summing to 1);
    # None where not recorded. How sure ``heard`` is: app.core.asr.gaze.
    gaze: Any = field(default=None, compare=False, repr=False)


def max_new_tokens_for(duration: float, tokens_per_second: float = 8.0) -> int:
    """Token budget for ``duration`` seconds of audio: 16 + ceil(duration * tokens_per_second)."""
    return 16 + math.ceil(max(0.0, duration) * tokens_per_second)


def build_prompt(context: str, default: str = "Please transcribe this audio into text") -> str:
    """The transcription prompt, with the user's names / hot words added when given.

    Special-token markup (``<|...|>``) is removed from the context, whitespace is collapsed
    and the context is cut to a sane length.
    """
    text = " ".join(_SPECIAL.sub(" ", context or "").split())[:MAX_CONTEXT_CHARS].strip()
    if not text:
        return default
    return f"{default}. Names and terms that may occur: {text}"


def _host_inputs(processor: Any, prompt: str, audios: Sequence[np.ndarray]) -> Any:
    """The processor's outputs for a batch (left padded, the prompt with context), on the
    host: :meth:`Engine.build_inputs` without the move to the device."""
    inputs = processor.apply_transcription_request(
        [_as_mono(a) for a in audios], prompt=[prompt] * len(audios)
    )
    inputs.pop("num_audio_tokens", None)
    return inputs


def _as_mono(audio: np.ndarray) -> np.ndarray:
    samples = np.asarray(audio, dtype=np.float32)
    if samples.ndim == 2 and 1 in samples.shape:
        samples = samples.reshape(-1)
    if samples.ndim != 1:
        raise MediaError(f"Audio for the engine must be mono (got shape {samples.shape}).")
    if not np.isfinite(samples).all():
        samples = np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)
    if 0 < len(samples) < MIN_SAMPLES:
        samples = np.pad(samples, (0, MIN_SAMPLES - len(samples)))
    return samples


def _cancel_criterion(cancel: threading.Event | None, on_step: StepHook | None) -> Any:
    """A StoppingCriteria that stops every row once ``cancel`` is set."""
    import torch
    from transformers import StoppingCriteria

    class CancelCriterion(StoppingCriteria):
        def __init__(self) -> None:
            self.steps = 0

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            self.steps += 1
            if on_step is not None:
                on_step(self.steps)
            stop = cancel is not None and cancel.is_set()
            return torch.full(
                (input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device
            )

    return CancelCriterion()


class _Threads:
    """CPU threads of the thread that runs the model. A core is lent to other work (the
    pipeline's producer) while it runs; when it ends, ``wanted`` is set and the model's
    thread takes it back at its next layer (a pre-hook on every layer calls
    :meth:`take_wanted`)."""

    def __init__(self) -> None:
        self.spare_held = False
        self.now = 0  # the model thread's count, as pinned
        self.thread: int | None = None  # the thread that pinned it
        self.wanted = 0  # a count to take at the next layer (0: none)

    def pinned(self, threads: int) -> None:
        self.now, self.thread = threads, threading.get_ident()

    def take_wanted(self, _module: Any, _args: Any) -> None:
        want = self.wanted
        if want and want != self.now and threading.get_ident() == self.thread:
            import torch

            torch.set_num_threads(want)
            self.now = want


class Engine:
    """GLM-ASR loaded once, used for many chunks. Not safe for concurrent decoding."""

    def __init__(self, options: EngineOptions = EngineOptions()) -> None:
        self.options = options
        self._device_info: DeviceInfo | None = None
        self._model: Any = None
        self._processor: Any = None
        self._model_path: Path | None = None
        self._pad_id: int | None = None
        self._eos_ids: list[int] = []
        self._load_lock = threading.Lock()
        self._batch_cap = 0  # a batch size that ran out of GPU memory halves this (0 = none)
        self._memory_batch: int | None = None  # CUDA: the batch the free memory holds
        self._threads = _Threads()  # shared with engines made by with_options
        self._decoders = _Decoders()  # likewise: one set of static caches per model
        self._prefetch = InputPrefetch()  # likewise: one helper thread per model
        # Whether this model's attention places the words of packed windows (learned
        # from the windows it decodes; remembered per model folder once loaded).
        self.placement = Placement()
        self.load_seconds = 0.0

    # ------------------------------------------------------------------ state

    @property
    def device_info(self) -> DeviceInfo | None:
        return self._device_info

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def model_path(self) -> Path | None:
        """The folder the model was loaded from (a cache snapshot for hub ids)."""
        return self._model_path

    @property
    def processor(self) -> Any:
        return self._processor

    @property
    def model(self) -> Any:
        return self._model

    @property
    def window_seconds(self) -> float | None:
        """The length of one audio window of the loaded processor (30 s for GLM-ASR)."""
        features = getattr(self._processor, "feature_extractor", None)
        samples = getattr(features, "n_samples", None)
        rate = getattr(features, "sampling_rate", None)
        if not samples or not rate:
            return None
        return float(samples) / float(rate)

    @property
    def batch_size(self) -> int:
        if self.options.batch_size > 0:
            size = self.options.batch_size
        elif self._device_info is None:
            size = 1
        elif self._device_info.device == "cuda":
            size = self._memory_batch_size()
        else:
            size = default_batch_size(self._device_info)
        return min(size, self._batch_cap) if self._batch_cap else size

    def _memory_batch_size(self) -> int:
        """On CUDA: as many chunks as the free memory holds (asked once after loading),
        see :func:`batch_size_for_memory`; a batch that still runs out halves the cap."""
        if self._memory_batch is None:
            assert self._device_info is not None
            try:
                import torch

                free, _total = torch.cuda.mem_get_info()
                dtype_bytes = 4 if self._device_info.dtype == "fp32" else 2
                self._memory_batch = batch_size_for_memory(
                    self._model.config,
                    int(free),
                    dtype_bytes,
                    window_s=self.window_seconds or 30.0,
                    tokens_per_second=self.options.tokens_per_second,
                    fused_attention=_fused_audio_attention(self._model.config),
                )
            except (RuntimeError, AttributeError, AssertionError):
                self._memory_batch = default_batch_size(self._device_info)
        return self._memory_batch

    @property
    def prompt(self) -> str:
        default = "Please transcribe this audio into text"
        if self._processor is not None:
            default = getattr(self._processor, "default_transcription_prompt", default)
        return build_prompt(self.options.context, default)

    # ------------------------------------------------------------------ loading

    def load(
        self,
        progress: Callable[[DownloadProgress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> DeviceInfo:
        """Find (download if needed) and load the model. Raises ModelError or Cancelled."""
        with self._load_lock:
            if self._model is not None and self._device_info is not None:
                return self._device_info
            started = time.monotonic()
            _check(cancel)
            folder = resolve_model(self.options.model, progress=progress, cancel=cancel)
            _check(cancel)
            info = choose_device(self.options.device, self.options.dtype, checkpoint_bytes(folder))
            if info.device == "cpu":
                import torch

                torch.set_num_threads(self.options.threads or default_threads())
            hold("loading", cancel)
            model, processor, info = load_model(folder, info)
            self._configure_padding(model, processor)
            self._tune(model, info)
            self._trim_features(processor)
            self._watch_threads(model, info)
            self._model, self._processor = model, processor
            self._model_path, self._device_info = folder, info
            self.placement = Placement.remembered(folder)
            self.load_seconds = time.monotonic() - started
            _check(cancel)
            return info

    def pin_threads(self, spare: int = 0) -> None:
        """Give the calling thread this engine's CPU thread count (``options.threads``, or
        the cores less ``spare`` ones left to other work, at least one).

        torch keeps the count per thread, and a thread takes the process-wide value at its
        first parallel operation; speech detection on another thread sets that value to 1
        for a moment, so a thread that is about to run the model takes its count now.
        """
        if self._device_info is None or self._device_info.device != "cpu":
            return
        import torch

        if not self._threads.spare_held:
            spare = 0
        threads = self.options.threads or max(1, default_threads() - spare)
        torch.set_num_threads(threads)
        torch.ones(1 << 16).add_(1)  # the first parallel operation sets up this thread
        torch.set_num_threads(threads)
        self._threads.pinned(threads)

    def hold_spare(self) -> None:
        """Other work is starting beside the model: :meth:`pin_threads` may leave it cores."""
        self._threads.spare_held = True
        self._threads.wanted = 0  # a release from an earlier run is void

    def release_spare(self) -> None:
        """That work is over (callable from any thread): the thread running the model takes
        every core back at its next layer, not only at its next batch, which on a CPU can
        be minutes away."""
        self._threads.spare_held = False
        self._threads.wanted = self.options.threads or default_threads()

    def adopt(self, model: Any, processor: Any, device_info: DeviceInfo) -> DeviceInfo:
        """Use a model and processor already in memory instead of loading from a folder.

        For benchmarks and tools that build a model themselves (e.g. the real
        architecture with random weights, which would be slow to save and reload).
        """
        with self._load_lock:
            self._configure_padding(model, processor)
            self._tune(model, device_info)
            self._trim_features(processor)
            self._watch_threads(model, device_info)
            self._model, self._processor, self._device_info = model, processor, device_info
            return device_info

    def with_options(self, **changes: Any) -> Engine:
        """An engine with some options changed that shares this one's loaded model.

        Only options that don't need a reload may change (context, batch_size,
        tokens_per_second, repetition_guard, threads); otherwise ModelError.
        """
        options = replace(self.options, **changes)
        reload = (
            "model",
            "device",
            "dtype",
            "cpu_attention",
            "encoder_windows",
            "prefill_rows",
            "widen_half",
        )
        if any(getattr(options, k) != getattr(self.options, k) for k in reload):
            raise ModelError(f"Changing {', '.join(reload)} needs a new Engine.")
        other = Engine(options)
        with self._load_lock:
            other._device_info, other._model, other._processor = (
                self._device_info,
                self._model,
                self._processor,
            )
            other._model_path, other._pad_id, other._eos_ids = (
                self._model_path,
                self._pad_id,
                self._eos_ids,
            )
            other.load_seconds = self.load_seconds
            other._threads = self._threads  # the model's layer hooks report to this one
            other._decoders = self._decoders
            other._prefetch = self._prefetch
            other.placement = self.placement  # the same model listens the same way
        return other

    def unload(self) -> None:
        """Free the model (it can be loaded again)."""
        with self._load_lock:
            self._model = self._processor = None
            self._device_info = None
            self._memory_batch = None
            self._decoders.clear()
            self._prefetch.close()

    def _tune(self, model: Any, info: DeviceInfo) -> None:
        """Per-device speed-ups. On a CPU: the text decoder's decoding steps use
        :mod:`app.core.asr.cpu_attention` (up to 2x faster than PyTorch's flash kernel,
        ``benchmarks/decode_sweep.py``; the same output); the audio encoder runs a batch
        a window at a time, :mod:`app.core.asr.cpu_encoder` (14 % less encoder time on
        ``benchmarks/rtf.py``'s file; the same output, but for bf16 rounding); the text
        decoder's prefill runs row by row without the batch's left padding,
        :mod:`app.core.asr.cpu_prefill` (the same output, but for bf16 rounding); a bf16
        model's products run in float32 where the CPU has no bf16 instructions,
        :mod:`app.core.asr.cpu_half` (the encoder about 20x faster there; the same output,
        but for the order of the sums).

        Elsewhere (CUDA, MPS) the text decoder gets
        :func:`~app.core.asr.cpu_attention.gaze_attention`: SDPA, but for the watched
        layer's decoding steps when where the decoder listened is recorded (packed
        windows); not with ``compile``, whose compiled steps record nothing."""
        if info.device != "cpu":
            if not self.options.compile:
                from app.core.asr import cpu_attention

                try:
                    cpu_attention.use_for_text_decoder(model, cpu_attention.GAZE_NAME)
                except Exception as exc:  # a transformers without these hooks: plain SDPA
                    log.warning("the decoder's attention can't be watched (%s); no packing", exc)
            return
        if self.options.widen_half is not False:
            from app.core.asr import cpu_half

            cpu_half.widen_products(model, force=bool(self.options.widen_half))
        if self.options.cpu_attention:
            from app.core.asr import cpu_attention

            cpu_attention.use_for_text_decoder(model)
        if self.options.encoder_windows != 0:
            from app.core.asr import cpu_encoder

            cpu_encoder.encode_in_groups(model, self.options.encoder_windows)
        if self.options.prefill_rows:
            from app.core.asr import cpu_prefill

            cpu_prefill.prefill_rows_alone(model)

    def _trim_features(self, processor: Any) -> None:
        """Log-mel features over each chunk's audio, not its window's zero padding (the
        same numbers, :mod:`app.core.asr.features`). On the CPU also with a GPU: computed
        on an H200 they took as long (5.3 ms a chunk against 4.4-5.0, benchmarks/README.md)."""
        from app.core.asr import features

        extractor = getattr(processor, "feature_extractor", None)
        if extractor is not None:
            features.install(extractor)

    def _watch_threads(self, model: Any, info: DeviceInfo) -> None:
        """A pre-hook on each layer (encoder and decoder) for :meth:`release_spare`: on a
        CPU only, where the threads do the model's work (elsewhere the hooks would only
        cost a call per layer, and break a compiled graph)."""
        if info.device != "cpu":
            return
        for name, module in model.named_modules():
            parent, _, index = name.rpartition(".")
            if index.isdigit() and parent.endswith("layers"):
                module.register_forward_pre_hook(self._threads.take_wanted)

    def _configure_padding(self, model: Any, processor: Any) -> None:
        """Left padding with a pad token that is never the audio placeholder ``<|pad|>``."""
        tokenizer = processor.tokenizer
        placeholder = getattr(processor, "audio_token", "<|pad|>")
        audio_id = getattr(model.config, "audio_token_id", None)
        eos = model.generation_config.eos_token_id
        if eos is None:
            eos = getattr(model.config.get_text_config(), "eos_token_id", None)
        self._eos_ids = [
            int(e) for e in ([] if eos is None else eos if isinstance(eos, list) else [eos])
        ]
        pad = tokenizer.pad_token
        if pad is None or pad == placeholder or tokenizer.pad_token_id == audio_id:
            candidates = [tokenizer.eos_token, "<|endoftext|>"]
            candidates += [tokenizer.convert_ids_to_tokens(i) for i in self._eos_ids]
            vocab = tokenizer.get_vocab()
            replacement = next(
                (c for c in candidates if c and c != placeholder and c in vocab), None
            )
            if replacement is None:
                raise ModelError("The model's tokenizer has no usable padding or end token.")
            tokenizer.pad_token = replacement
        tokenizer.padding_side = "left"
        self._pad_id = int(tokenizer.pad_token_id)
        if not self._eos_ids:
            self._eos_ids = [self._pad_id]

    def _require(self) -> tuple[Any, Any, DeviceInfo]:
        if self._model is None or self._device_info is None:
            raise ModelError("The model is not loaded yet.")
        return self._model, self._processor, self._device_info

    # ------------------------------------------------------------------ decoding

    def build_inputs(self, audios: Sequence[np.ndarray]) -> Any:
        """Processor outputs (left padded, prompt with context) for a batch, on the device."""
        model, processor, _ = self._require()
        return _host_inputs(processor, self.prompt, audios).to(model.device, dtype=model.dtype)

    def _prefetching(self) -> bool:
        """Whether batches' inputs are built ahead on a helper thread (``prefetch``)."""
        if self.options.prefetch is not None:
            return self.options.prefetch
        info = self._device_info
        return info is not None and info.device != "cpu"

    def _prefetch_inputs(self, audios: Sequence[np.ndarray]) -> Future[Any] | None:
        """The host-side inputs of the chunks of ``audios`` that have samples (those that
        :meth:`decode_batch` decodes), built on the helper thread; None if there are none."""
        _, processor, _ = self._require()
        live = [a for a in (_as_mono(a) for a in audios) if len(a) > 0]
        if not live:
            return None
        prompt = self.prompt
        return self._prefetch.submit(processor, lambda own: _host_inputs(own, prompt, live))

    def decode_batch(
        self,
        audios: Sequence[np.ndarray],
        cancel: threading.Event | None = None,
        *,
        anti_repetition: bool = False,
        on_step: StepHook | None = None,
        heard: bool = False,
        prepared: Future[Any] | None = None,
    ) -> list[Decoded]:
        """One greedy ``generate`` over the batch. Empty audio gives "" without decoding.

        ``on_step(k)`` is called after decoding step k (for progress and tests). ``heard``:
        record where each token was heard (:attr:`Decoded.heard`; the CPU attention only).
        ``prepared``: this batch's inputs from :meth:`_prefetch_inputs`.
        Raises Cancelled (within one step of ``cancel`` being set) or ModelError.
        """
        _check(cancel)
        samples = [_as_mono(a) for a in audios]
        results: list[Decoded | None] = [None] * len(samples)
        live = [i for i, s in enumerate(samples) if len(s) > 0]
        for i in range(len(samples)):
            if i not in live:
                results[i] = Decoded("", (), False)
        if live:
            decoded = self._generate_split(
                [samples[i] for i in live], cancel, anti_repetition, on_step, heard, prepared
            )
            for i, d in zip(live, decoded, strict=True):
                results[i] = d
        return [r for r in results if r is not None]

    def transcribe_batch(
        self,
        audios: Sequence[np.ndarray],
        cancel: threading.Event | None = None,
        *,
        anti_repetition: bool = False,
        on_step: StepHook | None = None,
    ) -> list[str]:
        """Texts of one greedy batch, in the order given (no repetition guard)."""
        return [
            d.text
            for d in self.decode_batch(
                audios, cancel, anti_repetition=anti_repetition, on_step=on_step
            )
        ]

    def transcribe(
        self,
        audios: Sequence[np.ndarray],
        cancel: threading.Event | None = None,
        *,
        on_step: StepHook | None = None,
        lengths: Sequence[int] | None = None,
    ) -> Iterator[tuple[int, str, bool]]:
        """Yield ``(index, text, retried)`` in completion order (see :meth:`transcribe_decoded`)."""
        for index, decoded, retried in self.transcribe_decoded(
            audios, cancel, on_step=on_step, lengths=lengths
        ):
            yield index, decoded.text, retried

    def transcribe_decoded(
        self,
        audios: Sequence[np.ndarray],
        cancel: threading.Event | None = None,
        *,
        on_step: StepHook | None = None,
        lengths: Sequence[int] | None = None,
        heard: bool = False,
    ) -> Iterator[tuple[int, Decoded, bool]]:
        """Yield ``(index, decoded, retried)`` in completion order (``heard``: see
        :meth:`decode_batch`).

        Chunks are sorted by length (longest first, so memory trouble shows early) and decoded
        in batches of ``batch_size``. A chunk whose output loops is decoded again alone with
        anti-repetition settings (``retried=True``); if it still loops, the loop is trimmed.
        ``lengths`` (samples per chunk) lets ``audios`` be a lazy sequence that is only
        read batch by batch. With ``prefetch`` (on a GPU) a batch's inputs are built on a
        helper thread, the next batch's while this one decodes (one batch ahead is read).
        """
        self._require()
        sizes = list(lengths) if lengths is not None else [len(a) for a in audios]
        order = sorted(range(len(audios)), key=lambda i: sizes[i], reverse=True)
        first = 0
        ahead: tuple[list[int], list[np.ndarray], Future[Any] | None] | None = None
        try:
            while first < len(order):
                _check(cancel)
                size = max(1, self.batch_size)  # smaller after running out of GPU memory
                indices = order[first : first + size]
                first += size
                prepared = None
                if ahead is not None and ahead[0] == indices:
                    batch, prepared = ahead[1], ahead[2]
                else:  # none built, or built for a batch size that has since shrunk
                    if ahead is not None and ahead[2] is not None:
                        ahead[2].cancel()
                    batch = [audios[i] for i in indices]
                ahead = None
                if self._prefetching():
                    # the helper builds this batch first if nobody did (the first batch),
                    # then the next one while the device decodes this one
                    if prepared is None:
                        prepared = self._prefetch_inputs(batch)
                    if first < len(order):
                        following = order[first : first + size]
                        next_batch = [audios[i] for i in following]
                        ahead = (following, next_batch, self._prefetch_inputs(next_batch))
                decoded = self.decode_batch(
                    batch, cancel, on_step=on_step, heard=heard, prepared=prepared
                )
                for index, audio, result in zip(indices, batch, decoded, strict=True):
                    retried = False
                    if self.options.repetition_guard and is_looping(result.ids, result.hit_limit):
                        result, retried = self._retry(audio, cancel, on_step, heard), True
                    yield index, result, retried
        finally:
            if ahead is not None and ahead[2] is not None:
                ahead[2].cancel()  # the consumer stopped, or an error: not needed

    def _retry(
        self,
        audio: np.ndarray,
        cancel: threading.Event | None,
        on_step: StepHook | None,
        heard: bool = False,
    ) -> Decoded:
        again = self.decode_batch(
            [audio], cancel, anti_repetition=True, on_step=on_step, heard=heard
        )[0]
        if not is_looping(again.ids, again.hit_limit):
            return again
        ids = tuple(trim_loop(again.ids))
        gaze = None if again.gaze is None else again.gaze[: len(ids)]
        return Decoded(self._text(ids), ids, again.hit_limit, again.heard[: len(ids)], gaze)

    def text_ends(self, ids: Sequence[int]) -> list[int]:
        """Where in ``Decoded.text`` (the decoded ``ids``, stripped) each token's text ends."""
        tokenizer = self._processor.tokenizer
        full = str(tokenizer.decode(list(ids), skip_special_tokens=True))
        lead = len(full) - len(full.lstrip())
        size = len(full.strip())
        ends = []
        for k in range(1, len(ids) + 1):
            part = str(tokenizer.decode(list(ids[:k]), skip_special_tokens=True))
            ends.append(min(size, max(0, len(part.rstrip()) - lead)))
        return ends

    def _text(self, ids: Sequence[int]) -> str:
        return str(self._processor.tokenizer.decode(list(ids), skip_special_tokens=True)).strip()

    def _generate_split(
        self,
        samples: list[np.ndarray],
        cancel: threading.Event | None,
        anti_repetition: bool,
        on_step: StepHook | None,
        heard: bool = False,
        prepared: Future[Any] | None = None,
    ) -> list[Decoded]:
        """``_generate``, halving the batch when the GPU runs out of memory (the halves
        build their own inputs: ``prepared`` holds the whole batch's)."""
        return self._split_on_oom(
            lambda part: self._generate(
                part, cancel, anti_repetition, on_step, heard, prepared if part is samples else None
            ),
            samples,
        )

    def _split_on_oom(self, run: Callable[[list[Any]], list[Any]], items: list[Any]) -> list[Any]:
        """``run(items)``; on out-of-GPU-memory, empty the cache and run each half, and
        remember the smaller batch so that later batches start there (no crash, no
        repeated failures). Other errors become ModelError."""
        from app.core.asr.model_loader import _empty_cuda_cache, _is_oom

        try:
            return run(items)
        except (Cancelled, ModelError):
            raise
        except Exception as exc:
            info = self._device_info
            if info is None or info.device == "cpu" or not _is_oom(exc):
                raise ModelError(f"Transcription failed: {_first_line(exc)}") from exc
            if len(items) == 1:
                raise ModelError(
                    f"Out of GPU memory on {info.name}; close other GPU programs or use "
                    "--device cpu."
                ) from None
        # Retried here, not inside the except clause: the error's traceback holds the
        # frames of the failed batch, and with them its tensors on the GPU, until the
        # clause ends. Inside it, the halves would run out of memory for the same reason.
        self._decoders.clear()  # static caches sized for the batch that failed
        _empty_cuda_cache()
        half = len(items) // 2
        self._batch_cap = max(1, min(self._batch_cap or half, half))
        out: list[Any] = []
        start = 0
        while start < len(items):
            size = self._batch_cap  # may shrink again inside
            out += self._split_on_oom(run, items[start : start + size])
            start += size
        return out

    def _generate(
        self,
        samples: list[np.ndarray],
        cancel: threading.Event | None,
        anti_repetition: bool,
        on_step: StepHook | None,
        heard: bool = False,
        prepared: Future[Any] | None = None,
    ) -> list[Decoded]:
        import torch
        from transformers import StoppingCriteriaList

        model, _, _ = self._require()
        limits = [
            max_new_tokens_for(len(s) / SAMPLE_RATE, self.options.tokens_per_second)
            for s in samples
        ]
        if prepared is not None:  # its error, if it raised, is this batch's
            inputs = prepared.result().to(model.device, dtype=model.dtype)
        else:
            inputs = self.build_inputs(samples)
        config = self._generation_config(max(limits), anti_repetition)
        criteria = StoppingCriteriaList([_cancel_criterion(cancel, on_step)])
        gaze = self._gaze(inputs["input_ids"]) if heard else None
        results = None
        if self._static_decoding(config):
            new_tokens = self._decode_static(inputs, config, cancel, on_step, gaze)
            if new_tokens is not None:
                _check(cancel)
                results = self._results(new_tokens.tolist(), limits)
        if results is None:  # off CUDA, or the static path failed (it recorded nothing)
            with torch.inference_mode(), _watching(gaze):
                output = model.generate(
                    **inputs, generation_config=config, stopping_criteria=criteria
                )
            _check(cancel)
            sequences = output.sequences if hasattr(output, "sequences") else output
            results = self._results(sequences[:, inputs["input_ids"].shape[1] :].tolist(), limits)
        if gaze is None:
            return results
        out = []
        for row, (result, s) in enumerate(zip(results, samples, strict=True)):
            weights = gaze.weights(row)  # (steps, audio tokens)
            peaks = weights.argmax(axis=1).tolist() if weights.size else []
            steps = _token_steps(peaks, result.ids)
            heard = _heard(peaks, result.ids, (0, weights.shape[1]), len(s) / SAMPLE_RATE)
            if not steps or not heard:
                out.append(result)
                continue
            looks = weights[steps]
            total = looks.sum(axis=1, keepdims=True)
            looks = np.where(total > 0, looks / np.maximum(total, 1e-30), 1.0 / looks.shape[1])
            out.append(replace(result, heard=heard, gaze=looks.astype(np.float32)))
        return out

    def records_gaze(self) -> bool:
        """Whether the loaded model records where its decoder listened
        (:attr:`Decoded.heard`, asked for with ``heard=True``): its text decoder runs an
        attention of :mod:`app.core.asr.cpu_attention` (the CPU's, or SDPA with the
        watched layer computed apart elsewhere)."""
        model = self._model
        if model is None or getattr(model.config, "audio_token_id", None) is None:
            return False
        from app.core.asr import cpu_attention

        return cpu_attention.records_gaze(model)

    def _gaze(self, input_ids: Any) -> Any:
        """An :class:`~app.core.asr.cpu_attention.AudioGaze` for this batch when the text
        decoder runs an attention that computes the probabilities, else None."""
        if not self.records_gaze():
            return None
        model, _, _ = self._require()
        text = model.config.text_config
        audio_id = model.config.audio_token_id
        from app.core.asr import cpu_attention

        spans = []
        for row in (input_ids == audio_id).tolist():
            where = [k for k, is_audio in enumerate(row) if is_audio]
            spans.append((where[0], where[-1] + 1) if where else (0, 0))
        return cpu_attention.AudioGaze(int(text.num_hidden_layers) - 1, spans)

    def _generation_config(self, max_new_tokens: int, anti_repetition: bool) -> Any:
        model, _, _ = self._require()
        config = copy.deepcopy(model.generation_config)
        config.do_sample = False
        config.num_beams = 1
        config.temperature = config.top_p = config.top_k = None
        config.max_new_tokens = max_new_tokens
        config.max_length = None
        config.pad_token_id = self._pad_id
        config.eos_token_id = self._eos_ids
        config.repetition_penalty = (
            ANTI_REPETITION["repetition_penalty"] if anti_repetition else None
        )
        config.no_repeat_ngram_size = (
            ANTI_REPETITION["no_repeat_ngram_size"] if anti_repetition else None
        )
        if self.options.compile and self._on_cuda():  # generate compiles only there
            static_cache(config, max_new_tokens)
        return config

    def _decode_static(
        self,
        inputs: Any,
        config: Any,
        cancel: threading.Event | None,
        on_step: StepHook | None,
        gaze: Any = None,
    ) -> Any:
        """The new tokens from :mod:`app.core.asr.static_decode` (``gaze`` filled where
        given), or None where it failed
        for a reason other than memory: then ``generate`` decodes this batch and every
        later one, and the log says why once (a transformers version whose internals the
        static path does not know must cost speed, never the transcript)."""
        import torch

        from app.core.asr.model_loader import _is_oom

        model, _, _ = self._require()
        decoder = self._decoders.get(model)

        def on_token(k: int) -> bool:  # as the cancel criterion, without a tensor
            if on_step is not None:
                on_step(k)
            return cancel is not None and cancel.is_set()

        try:
            with torch.inference_mode():
                return decoder.generate(
                    inputs,
                    config.max_new_tokens,
                    self._eos_ids,
                    int(config.pad_token_id),
                    on_token=on_token,
                    gaze=gaze,
                )
        except Exception as exc:
            if _is_oom(exc):
                raise
            log.warning("decoding on a static cache failed (%s); using generate", exc)
            self._decoders.failed = True
            self._decoders.clear()
            return None

    def _static_decoding(self, config: Any) -> bool:
        """Whether this batch decodes with :mod:`app.core.asr.static_decode`: on CUDA with
        ``cuda_graphs`` (not ``compile``), where ``generate`` would apply no logits
        processor (the anti-repetition retries keep ``generate``)."""
        if not self.options.cuda_graphs or self.options.compile or self._decoders.failed:
            return False
        return self._on_cuda() and _plain_greedy(config)

    def _on_cuda(self) -> bool:
        info = self._device_info
        return info is not None and info.device == "cuda"

    def _results(self, new_tokens: list[list[int]], limits: list[int]) -> list[Decoded]:
        eos = set(self._eos_ids)
        results = []
        for row, limit in zip(new_tokens, limits, strict=True):
            end = next((k for k, token in enumerate(row) if token in eos), None)
            hit_limit = end is None or end >= limit
            ids = tuple(row[: limit if end is None else min(end, limit)])
            results.append(Decoded(self._text(ids), ids, hit_limit))
        return results


# GenerationConfig fields that make ``generate`` change the logits before its greedy pick
# (values that leave them alone: None, or these).
_PROCESSOR_FIELDS = {
    "repetition_penalty": (None, 1.0),
    "no_repeat_ngram_size": (None, 0),
    "encoder_repetition_penalty": (None, 1.0),
    "encoder_no_repeat_ngram_size": (None, 0),
    "bad_words_ids": (None,),
    "suppress_tokens": (None,),
    "begin_suppress_tokens": (None,),
    "forced_bos_token_id": (None,),
    "forced_eos_token_id": (None,),
    "sequence_bias": (None,),
    "exponential_decay_length_penalty": (None,),
    "min_length": (None, 0),
    "min_new_tokens": (None, 0),
    "renormalize_logits": (None, False),
    "guidance_scale": (None, 1.0),
    "watermarking_config": (None,),
}


def _fused_audio_attention(config: Any) -> bool:
    """Whether the audio encoder's attention runs in kernels that never hold the scores
    (SDPA or FlashAttention), so that the memory estimate may leave them out."""
    audio = getattr(config, "audio_config", None)
    name = str(getattr(audio, "_attn_implementation", None) or "")
    return name == "sdpa" or name.startswith("flash")


def _plain_greedy(config: Any) -> bool:
    """Whether ``generate`` with ``config`` is plain greedy decoding: one beam, no
    sampling, no logits processor."""
    if getattr(config, "do_sample", False) or (getattr(config, "num_beams", 1) or 1) != 1:
        return False
    return all(getattr(config, name, None) in plain for name, plain in _PROCESSOR_FIELDS.items())


class _Decoders:
    """The :class:`~app.core.asr.static_decode.StaticDecoder` of the loaded model,
    shared by the engines made by ``with_options``."""

    def __init__(self) -> None:
        self._decoder: Any = None
        self._lock = threading.Lock()
        self.failed = False  # the static path failed for this model: generate only

    def get(self, model: Any) -> Any:
        with self._lock:
            if self._decoder is None or self._decoder.model is not model:
                from app.core.asr.static_decode import StaticDecoder

                self._decoder = StaticDecoder(model, graphs=True)  # CUDA graphs on CUDA
            return self._decoder

    def clear(self) -> None:
        with self._lock:
            if self._decoder is not None:
                self._decoder.clear()
            self._decoder = None


# The static KV cache's length is rounded up to this, so that batches of different
# prompt lengths and token budgets share one cache shape (and one compiled graph): the
# rounding of the CUDA graphs' static caches.
STATIC_CACHE_STEP = LENGTH_STEP


def static_cache(config: Any, max_new_tokens: int, window_tokens: int = 448) -> None:
    """Set ``config`` (a GenerationConfig) to decode on a static KV cache compiled by
    torch.compile (CUDA graphs, "reduce-overhead"), which transformers' ``generate`` does
    on a CUDA device when the cache is static. The cache holds a window's audio tokens and
    prompt (``window_tokens``: 375 audio tokens and the prompt's, rounded up) and the
    token budget, rounded up to :data:`STATIC_CACHE_STEP`; shapes that change only in the
    batch size are compiled once more with that size dynamic."""
    from transformers import CompileConfig

    wanted = window_tokens + max_new_tokens
    config.cache_implementation = "static"
    config.max_cache_len = -(-wanted // STATIC_CACHE_STEP) * STATIC_CACHE_STEP
    config.compile_config = CompileConfig(fullgraph=False, dynamic=None, mode="reduce-overhead")


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled()


def _watching(gaze: Any) -> Any:
    if gaze is None:
        return contextlib.nullcontext()
    from app.core.asr import cpu_attention

    return cpu_attention.watching(gaze)


def _token_steps(peaks: Sequence[int], ids: Sequence[int]) -> list[int]:
    """The decoding step whose attention says where each of ``ids`` was heard ([] when
    steps are missing). Step k listens while it produces token k + 1 (the first token
    comes from the prompt's pass, which is not recorded: it takes the next token's step).
    A token produced without the attention moving from the previous token's place (the
    first word after a pause, in the listener: "zero seven" both at the end of "zero")
    takes the step after, where the attention moved on. ``peaks``: each step's most
    weighed audio token."""
    if not ids or not peaks or len(peaks) + 1 < len(ids):
        return []
    steps = [max(0, k - 1) for k in range(len(ids))]
    for k in range(2, len(ids)):
        same = peaks[k - 1] == peaks[k - 2]
        if same and k < len(peaks) and peaks[k] > peaks[k - 1]:
            steps[k] = k
    return steps


def _heard(
    peaks: Sequence[int], ids: Sequence[int], span: tuple[int, int], seconds: float
) -> tuple[float, ...]:
    """Seconds where each of ``ids`` was heard (:func:`_token_steps`), from each step's
    most weighed audio token among the ``span`` of the prompt's audio tokens."""
    count = span[1] - span[0]
    steps = _token_steps(peaks, ids)
    if count <= 0 or not steps:
        return ()
    per_token = seconds / count
    return tuple(min(seconds, (peaks[step] + 0.5) * per_token) for step in steps)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
