"""Find the speech in audio with silero-vad, quickly, and keep quiet speech.

The silero model (JIT, bundled with the ``silero-vad`` package) looks at
512-sample windows (32 ms at 16 kHz) one after another and carries an LSTM
state. Calling it once per window costs ~0.3 ms of overhead per call, ~35 s per
hour of audio. Only its LSTM carries state, though: the spectrum and the four
convolutions before it see one window and the 64 samples before it, nothing
else. So :class:`_SileroNet` runs that stateless front over thousands of windows
at once (an FFT and four convolutions), and then only the LSTM step by step. The
audio is split into *stretches* (rows of the LSTM's batch), each started
``warmup_s`` early so the state has settled when its own part begins (the
warm-up output is dropped). Groups of stretches can run on several threads
(``workers``). ``max_stretches=1`` is the plain sequential pass: the numbers the
silero model gives window by window.

Before detection the level is normalised (for detection only; the samples are
never changed): the loud parts of each block are brought to ``target_dbfs``,
with the gain capped at ``max_gain_db``. "Loud" means at least 10 dB above the
block's noise floor, so pure low-level noise (no such parts) is not amplified.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import logging
import math
import os
import threading
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.core.audio.blas import one_blas_thread
from app.core.errors import Cancelled

log = logging.getLogger(__name__)

WINDOW = 512  # samples per silero window at 16 kHz
MODEL_RATE = 16000

# Level analysis for normalisation.
_LOUD_ABOVE_FLOOR_DB = 10.0  # a window is "loud" this far above the noise floor
_DIGITAL_SILENCE_DB = -100.0
_MIN_LOUD_S = 1.0  # loud audio a block needs to get its own gain
_LEVEL_BLOCK_S = 30.0
# Cost of one LSTM step's fixed overhead, in rows of batch work (measured with
# torch.nn.LSTM on one thread: 8.7 us a step for 1 row, 3.4 us per row beyond). The numpy
# LSTM (about 14 us and 5 us) would put it near 2.8, for the same total within 1 %
# (computed from those costs): kept, so that the stretches, and the results, stay the same.
_STEP_OVERHEAD_ROWS = 1.6
_CONTEXT = 64  # samples of the previous window the network sees with each window
_FRONT_BATCH = 256  # windows per call of the stateless front (stays in cache: fastest here)
_BLOCK_WINDOWS = 65536  # front features held at once per worker (~34 MB)
_LSTM_SLAB = 64  # LSTM steps whose input products are computed at once
_WEIGHTS_VERSION = 1  # of the cached weights' layout (see _weights)
_MAX_DEFAULT_WORKERS = 8


@dataclass(frozen=True)
class SpeechRegion:
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class VadOptions:
    threshold: float = 0.5
    min_speech_s: float = 0.25
    min_silence_s: float = 0.3
    speech_pad_s: float = 0.1
    normalize: bool = True  # level normalisation before VAD (quiet speech)
    workers: int | None = None  # threads running groups of stretches; None = cpu count
    # Normalisation: loud parts are brought to target_dbfs (RMS of a window).
    target_dbfs: float = -20.0
    max_gain_db: float = 40.0
    max_cut_db: float = 20.0
    # Batched stretches: 1 = the plain sequential silero pass.
    max_stretches: int = 512
    min_stretch_s: float = 4.0
    warmup_s: float = 1.0


# --------------------------------------------------------------------------- model pool

_pool_lock = threading.Lock()
_free_models: list[Any] = []


def _load_model() -> Any:
    import torch

    threads = torch.get_num_threads()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from silero_vad import load_silero_vad

            return load_silero_vad()
    finally:
        # Importing silero_vad calls torch.set_num_threads(1) for the whole
        # process; put the caller's setting back.
        torch.set_num_threads(threads)


def _acquire_model() -> Any:
    with _pool_lock:
        if _free_models:
            return _free_models.pop()
    return _load_model()


def _release_model(model: Any) -> None:
    with _pool_lock:
        _free_models.append(model)


class _SileroNet:
    """silero-vad's 16 kHz network in numpy, cut where its state begins.

    ``front`` is the stateless part (window spectrum, four convolutions): it takes
    any number of windows at once, each with the 64 samples before it. ``steps``
    runs the LSTM and the output layer over a (time, rows, 128) batch. The weights
    are those of the JIT model the ``silero-vad`` package ships (:func:`_weights`);
    together the two give the model's own numbers (``tests/test_vad.py`` checks it
    window by window).

    numpy, not torch: the decoding process (:mod:`app.core.audio.stretch_process`) then
    never imports torch (1.6-1.8 s of a core), and here numpy is faster anyway (256
    windows through the front: 2.5 ms against torch's 2.9 ms, one thread; the FFT runs
    in float64, which numpy 2.4 does 6x faster than float32). Matrix products go to
    numpy's BLAS on one thread (:func:`~app.core.audio.blas.one_blas_thread`).
    """

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        basis = weights["stft"]
        self.n_fft = basis.shape[1]
        self.hop = self.n_fft // 2
        bins = self.n_fft // 2 + 1
        # The basis is a window times the DFT: row 0 (frequency 0, real part) is the
        # window itself. Checked, so that an FFT can stand in for the basis.
        window = basis[0].astype(np.float64)
        dft = np.fft.rfft(np.diag(window), axis=1).T  # (bins, n_fft)
        expected = np.concatenate([dft.real, dft.imag])
        if basis.shape != (2 * bins, self.n_fft) or not np.allclose(basis, expected, atol=1e-5):
            raise RuntimeError("this silero-vad model is not the one Murmur knows (STFT basis)")
        self.window = window
        w = [weights[f"conv{i}.weight"] for i in range(4)]
        b = [weights[f"conv{i}.bias"] for i in range(4)]
        if [x.shape for x in w] != [(128, bins, 3), (64, 128, 3), (64, 64, 3), (128, 64, 3)]:
            raise RuntimeError("this silero-vad model is not the one Murmur knows (encoder)")

        def taps(weight: np.ndarray, which: Sequence[int], axis: int) -> np.ndarray:
            return np.ascontiguousarray(
                np.concatenate([weight[:, :, k].T for k in which], axis=axis), dtype=np.float32
            )

        # Each convolution is one matrix product over the few frames a window has
        # (4 -> 4 -> 2 -> 1 -> 1; kernel 3, padding 1, strides 1, 2, 2, 1):
        self.w1, self.b1 = taps(w[0], (0, 1, 2), 1), b[0]  # all 3 taps side by side
        self.w2_first, self.w2_second = taps(w[1], (1, 2), 0), taps(w[1], (0, 1, 2), 0)
        self.b2 = b[1]
        self.w3, self.b3 = taps(w[2], (1, 2), 0), b[2]  # frames 0 and 1 (tap 0: padding)
        self.w4, self.b4 = taps(w[3], (1,), 0), b[3]  # one frame: only the middle tap
        hidden = weights["lstm.weight_hh"].shape[1]
        self.features = hidden
        # sigmoid(x) = (tanh(x / 2) + 1) / 2: the input, forget and output gates are
        # scaled by 1/2 here, so one tanh serves all four gates; and they are put side by
        # side (PyTorch's order is i, f, g, o; here i, f, o, g), for fewer numpy calls a step.
        order = np.concatenate([np.arange(k * hidden, (k + 1) * hidden) for k in (0, 1, 3, 2)])
        scale = np.full(4 * hidden, 0.5, dtype=np.float32)
        scale[3 * hidden :] = 1.0

        def gates(a: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(a[order].T * scale, dtype=np.float32)

        self.w_ih, self.w_hh = gates(weights["lstm.weight_ih"]), gates(weights["lstm.weight_hh"])
        self.lstm_bias = (
            (weights["lstm.bias_ih"] + weights["lstm.bias_hh"])[order] * scale
        ).astype(np.float32)
        self.head_w = np.ascontiguousarray(weights["head.weight"].reshape(1, -1).T, np.float32)
        self.head_b = weights["head.bias"].astype(np.float32)

    def front(self, frames: np.ndarray) -> np.ndarray:
        """(N, 64 + 512) float32 windows with their context -> (N, 128) LSTM inputs."""
        n, width = frames.shape
        padded = np.empty((n, width + _CONTEXT), dtype=np.float32)
        padded[:, :width] = frames
        padded[:, width:] = frames[:, width - 2 : width - 2 - _CONTEXT : -1]  # reflect
        count = (width + _CONTEXT - self.n_fft) // self.hop + 1
        item = padded.itemsize
        framed = np.lib.stride_tricks.as_strided(
            padded,
            shape=(n, count, self.n_fft),
            strides=((width + _CONTEXT) * item, self.hop * item, item),
            writeable=False,
        )
        spec = np.abs(np.fft.rfft(framed * self.window, axis=-1)).astype(np.float32)
        # conv 1 (stride 1): frame t = tap 0 of t - 1 + tap 1 of t + tap 2 of t + 1
        taps = (spec.reshape(n * count, -1) @ self.w1).reshape(n, count, 3, -1)
        x = taps[:, :, 1].copy()
        x[:, 1:] += taps[:, :-1, 0]
        x[:, :-1] += taps[:, 1:, 2]
        x += self.b1
        np.maximum(x, 0, out=x)
        # conv 2 (stride 2): out 0 = frames (pad, 0, 1), out 1 = frames (1, 2, 3)
        y = np.empty((n, 2, len(self.b2)), dtype=np.float32)
        np.matmul(x[:, 0:2].reshape(n, -1), self.w2_first, out=y[:, 0])
        np.matmul(x[:, 1:4].reshape(n, -1), self.w2_second, out=y[:, 1])
        y += self.b2
        np.maximum(y, 0, out=y)
        z = y.reshape(n, -1) @ self.w3  # conv 3 (stride 2): frames (pad, 0, 1)
        z += self.b3
        np.maximum(z, 0, out=z)
        out = z @ self.w4  # conv 4: one frame
        out += self.b4
        np.maximum(out, 0, out=out)
        return out

    def steps(self, inputs: np.ndarray) -> np.ndarray:
        """(T, rows, 128) inputs from a zero state -> (T, rows) speech probabilities."""
        steps, rows, _ = inputs.shape
        hidden = self.features
        h = np.zeros((rows, hidden), dtype=np.float32)
        c = np.zeros((rows, hidden), dtype=np.float32)
        probs = np.empty((steps, rows), dtype=np.float32)
        for t0 in range(0, steps, _LSTM_SLAB):
            t1 = min(steps, t0 + _LSTM_SLAB)
            gates_in = inputs[t0:t1].reshape(-1, inputs.shape[2]) @ self.w_ih
            gates_in += self.lstm_bias
            gates_in = gates_in.reshape(t1 - t0, rows, 4 * hidden)
            outs = np.empty((t1 - t0, rows, hidden), dtype=np.float32)
            for t in range(t1 - t0):
                g = gates_in[t]
                g += h @ self.w_hh
                np.tanh(g, out=g)
                sig = g[:, : 3 * hidden]
                sig += 1.0
                sig *= 0.5  # the input, forget and output gates
                i, f, o, cell = np.split(g, 4, axis=1)  # views
                c *= f
                i *= cell
                c += i
                h = outs[t]
                np.tanh(c, out=h)
                h *= o
            h = h.copy()  # the state goes on; the outputs now get their ReLU in place
            np.maximum(outs, 0, out=outs)
            logits = (outs.reshape(-1, hidden) @ self.head_w).reshape(t1 - t0, rows)
            logits += self.head_b
            probs[t0:t1] = 0.5 * (np.tanh(0.5 * logits) + 1.0)
        return probs


_net_lock = threading.Lock()
_nets: list[_SileroNet] = []
_WEIGHT_NAMES = (
    "stft",
    *(f"conv{i}.{part}" for i in range(4) for part in ("weight", "bias")),
    *(f"lstm.{part}" for part in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")),
    "head.weight",
    "head.bias",
)


def _acquire_net() -> _SileroNet:
    """The shared network (its weights are only read, so threads may share it)."""
    with _net_lock:
        if not _nets:
            one_blas_thread()
            _nets.append(_SileroNet(_weights()))
        return _nets[0]


def _jit_file() -> Path | None:
    """The JIT model file of the ``silero-vad`` package, found without importing the
    package (its ``__init__`` imports torch)."""
    try:
        spec = importlib.util.find_spec("silero_vad")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / "data" / "silero_vad.jit"
        if path.is_file():
            return path
    return None


def weights_cache_path() -> Path | None:
    """Where the JIT model's weights are kept as numpy arrays: named by the JIT file's
    content, so another silero-vad version gets its own. None: the file was not found."""
    jit = _jit_file()
    if jit is None:
        return None
    from app.core.settings import data_dir

    digest = hashlib.sha256(jit.read_bytes()).hexdigest()[:20]
    return data_dir() / "cache" / f"silero-vad-{digest}-v{_WEIGHTS_VERSION}.npz"


def _weights_from_jit(model: Any) -> dict[str, np.ndarray]:
    """The arrays :class:`_SileroNet` needs, read from silero's JIT model."""
    net = model._model
    if int(net.stft.hop_length) * 2 != int(net.stft.filter_length):
        raise RuntimeError("this silero-vad model is not the one Murmur knows (STFT hop)")
    found: dict[str, Any] = {
        "stft": net.stft.forward_basis_buffer.reshape(-1, int(net.stft.filter_length))
    }
    for i in range(4):
        conv = getattr(net.encoder, str(i)).reparam_conv
        if (int(conv.stride[0]), int(conv.padding[0])) != ((1, 2, 2, 1)[i], 1):
            raise RuntimeError("this silero-vad model is not the one Murmur knows (strides)")
        found[f"conv{i}.weight"], found[f"conv{i}.bias"] = conv.weight, conv.bias
    rnn = net.decoder.rnn
    for part in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        found[f"lstm.{part}"] = getattr(rnn, part)
    head = getattr(net.decoder.decoder, "2")
    found["head.weight"], found["head.bias"] = head.weight, head.bias
    return {k: np.array(v.detach().numpy(), dtype=np.float32) for k, v in found.items()}


def _weights() -> dict[str, np.ndarray]:
    """silero's weights as numpy arrays: from the cache (:func:`weights_cache_path`), or
    read from the JIT model (which needs torch) and then cached, so that the next process
    needs no torch. The package's ``silero_vad_16k.safetensors`` holds other weights
    (another version of the model), so it cannot stand in."""
    cache = weights_cache_path()
    if cache is not None and cache.is_file():
        try:
            with np.load(cache) as data:
                weights = {k: np.asarray(data[k], dtype=np.float32) for k in _WEIGHT_NAMES}
            return weights
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            log.warning("speech detection's cached weights are unreadable (%s); reading again", exc)
    model = _acquire_model()
    try:
        weights = _weights_from_jit(model)
    finally:
        _release_model(model)
    if cache is not None:
        from app.core.atomic import write_bytes_atomic

        buffer = io.BytesIO()
        np.savez(buffer, **weights)
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(cache, buffer.getvalue(), fsync=False)
        except OSError as exc:
            log.info("could not keep speech detection's weights in %s: %s", cache, exc)
    return weights


# --------------------------------------------------------------------------- levels


def window_levels_db(samples: np.ndarray) -> np.ndarray:
    """RMS level (dBFS) of each 512-sample window (the last one zero-padded)."""
    samples = np.asarray(samples, dtype=np.float32)
    n = len(samples)
    count = math.ceil(n / WINDOW)
    if count == 0:
        return np.zeros(0, dtype=np.float64)
    full = n // WINDOW
    energy = np.empty(count, dtype=np.float64)
    if full:
        wins = samples[: full * WINDOW].reshape(full, WINDOW)
        energy[:full] = np.einsum("ij,ij->i", wins, wins) / WINDOW
    if count > full:
        tail = samples[full * WINDOW :].astype(np.float64)
        energy[full] = float(np.dot(tail, tail)) / WINDOW
    return 10.0 * np.log10(np.maximum(energy, 1e-20))


def _loud_level(levels: np.ndarray, min_loud: int) -> float | None:
    """Robust level of the loud parts, or None when there are too few of them."""
    live = levels[levels > _DIGITAL_SILENCE_DB]
    if live.size < min_loud:
        return None
    floor = float(np.percentile(live, 10))
    loud = live[live >= floor + _LOUD_ABOVE_FLOOR_DB]
    if loud.size < min_loud:
        return None
    return float(np.percentile(loud, 90))


def normalization_gains(
    samples: np.ndarray, sample_rate: int = MODEL_RATE, options: VadOptions = VadOptions()
) -> np.ndarray:
    """Linear gain for each 512-sample window, for detection only.

    Each block of ``_LEVEL_BLOCK_S`` gets the gain that brings its loud parts
    to ``target_dbfs``; a block with too little loud audio gets the gain of the
    whole file; with no loud audio anywhere the gain is 1 (noise stays noise).
    """
    levels = window_levels_db(samples)
    if levels.size == 0:
        return np.ones(0, dtype=np.float32)
    min_loud = max(1, round(_MIN_LOUD_S * sample_rate / WINDOW))

    def gain_db(level: float | None, fallback: float) -> float:
        if level is None:
            return fallback
        return float(np.clip(options.target_dbfs - level, -options.max_cut_db, options.max_gain_db))

    overall = gain_db(_loud_level(levels, min_loud), 0.0)
    block = max(1, round(_LEVEL_BLOCK_S * sample_rate / WINDOW))
    gains = np.empty(levels.size, dtype=np.float32)
    for a in range(0, levels.size, block):
        b = min(levels.size, a + block)
        gains[a:b] = gain_db(_loud_level(levels[a:b], min_loud), overall)
    return np.power(10.0, gains / 20.0).astype(np.float32)


# --------------------------------------------------------------------------- probabilities


@dataclass(frozen=True)
class _Plan:
    windows: int  # windows in the audio
    rows: int  # stretches run side by side
    length: int  # windows each stretch owns
    warmup: int  # windows run before a stretch's own part (dropped)

    @property
    def steps(self) -> int:
        return self.length + self.warmup

    def starts(self) -> np.ndarray:
        """First window fed to each row; row 0 starts at 0 without warm-up."""
        starts = np.arange(self.rows, dtype=np.int64) * self.length - self.warmup
        starts[0] = 0
        return starts


def _plan(windows: int, sample_rate: int, options: VadOptions) -> _Plan:
    """How many stretches to run side by side.

    An LSTM step costs about ``a + b * rows`` (a ~ 1.6 b: fixed overhead vs. per-row
    work), and there are ``windows / rows + warmup`` steps, so the time is lowest
    near ``rows = sqrt(windows * a / (b * warmup))``. Stretches are never shorter
    than ``min_stretch_s``. The plan does not depend on the number of workers, so
    the result is the same on any machine.
    """
    per_s = sample_rate / WINDOW
    warmup = max(1, round(options.warmup_s * per_s))
    min_len = max(1, round(options.min_stretch_s * per_s))
    ideal = math.sqrt(windows * _STEP_OVERHEAD_ROWS / warmup)
    rows = max(1, min(options.max_stretches, windows // min_len, round(ideal)))
    if rows == 1:
        return _Plan(windows=windows, rows=1, length=windows, warmup=0)
    length = math.ceil(windows / rows)
    rows = math.ceil(windows / length)
    return _Plan(windows=windows, rows=rows, length=length, warmup=warmup)


class _Progress:
    def __init__(self, total: int, callback: Callable[[float], None] | None) -> None:
        self._total = max(1, total)
        self._done = 0
        self._lock = threading.Lock()
        self._callback = callback
        self._last = -1.0

    def add(self, n: int) -> None:
        if self._callback is None:
            return
        with self._lock:
            self._done += n
            fraction = min(1.0, self._done / self._total)
            if fraction - self._last < 0.01 and fraction < 1.0:
                return
            self._last = fraction
        self._callback(fraction)


def _blocks(plan: _Plan, rows: np.ndarray) -> list[tuple[np.ndarray, int, int]]:
    """The rows in blocks, each with the windows ``[first, last)`` it feeds.

    A block holds at most about ``_BLOCK_WINDOWS`` windows' features, so memory stays
    flat however long the audio is."""
    per_block = max(1, _BLOCK_WINDOWS // max(1, plan.steps))
    starts = plan.starts()
    out = []
    for i in range(0, len(rows), per_block):
        block = rows[i : i + per_block]
        first = int(max(0, starts[block[0]]))
        last = int(min(plan.windows, starts[block[-1]] + plan.steps))
        out.append((block, first, last))
    return out


def _frames(samples: np.ndarray, gains: np.ndarray | None, first: int, last: int) -> np.ndarray:
    """Windows ``[first, last)``, each with the 64 samples before it, as the model
    sees them: gained and clipped, the audio zero-padded after its end, and zeros
    before its start. A read-only array of shape ``(last - first, 64 + 512)``."""
    n = last - first
    lead = 1 if first > 0 else 0
    flat = np.zeros((n + 1) * WINDOW, dtype=np.float32)
    src = samples[(first - lead) * WINDOW : last * WINDOW]
    offset = (1 - lead) * WINDOW
    flat[offset : offset + len(src)] = src
    if gains is not None:
        wins = flat.reshape(n + 1, WINDOW)
        gain = np.ones(n + 1, dtype=np.float32)
        gain[1 - lead :] = gains[first - lead : last]
        wins *= gain[:, None]
        np.clip(wins, -1.0, 1.0, out=wins)
    overlapping = np.lib.stride_tricks.as_strided(
        flat[WINDOW - _CONTEXT :],
        shape=(n, _CONTEXT + WINDOW),
        strides=(WINDOW * flat.itemsize, flat.itemsize),
        writeable=False,
    )
    return overlapping


def _run_rows(
    samples: np.ndarray,
    gains: np.ndarray | None,
    plan: _Plan,
    rows: np.ndarray,
    out: np.ndarray,
    cancel: threading.Event | None,
    stop: threading.Event,
    progress: _Progress,
) -> None:
    """Run the given stretches, a block of rows at a time, writing into ``out``:
    the front over every window the block feeds, then the LSTM over its rows."""
    net = _acquire_net()
    starts = plan.starts()
    for block, first, last in _blocks(plan, rows):
        features = np.zeros((last - first + 1, net.features), dtype=np.float32)  # last: zeros
        for a in range(first, last, _FRONT_BATCH):
            if stop.is_set() or (cancel is not None and cancel.is_set()):
                stop.set()
                return
            b = min(last, a + _FRONT_BATCH)
            features[a - first : b - first] = net.front(_frames(samples, gains, a, b))
            progress.add(b - a)
        idx = starts[block][None, :] + np.arange(plan.steps)[:, None]  # (T, rows)
        fed = np.where(idx < last, idx - first, last - first)  # past the end: zeros
        probs = net.steps(features[fed])
        own_from = np.where(block == 0, 0, plan.warmup)
        for j in range(len(block)):
            s = int(own_from[j])
            where = idx[s : s + plan.length, j]
            keep = where < plan.windows
            out[where[keep]] = probs[s : s + plan.length, j][keep]


def _default_workers() -> int:
    """CPUs this process may use, at most ``_MAX_DEFAULT_WORKERS``."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, _MAX_DEFAULT_WORKERS))


def _join_all(pool: list[threading.Thread], stop: threading.Event) -> None:
    """Join every worker, even when an exception (Ctrl+C) lands in ``join()``.

    The workers are not daemons: the process must never exit while one of them is
    inside torch (that aborts). On an exception ``stop`` makes them end at their
    next check (within 16 windows); they are joined before it propagates.
    """
    try:
        for t in pool:
            t.join()
    except BaseException:
        stop.set()
        for t in pool:
            while t.is_alive():
                with contextlib.suppress(KeyboardInterrupt):
                    t.join()
        raise


def run_workers(
    work: Callable[..., None],
    args: Sequence[tuple[Any, ...]],
    stop: threading.Event,
    name: str,
    *,
    torch_threads: bool = True,
) -> None:
    """``work(*a)`` for each ``a`` in ``args``, each in its own thread (inline when
    there is one). With ``torch_threads`` all run with one torch intra-op thread:
    parallel work across threads of small torch calls, without the intra-op threads'
    synchronisation (speech detection, numpy only, passes False: it never imports
    torch). ``stop`` tells the workers to end (an exception here sets it); they are
    all joined."""
    torch: Any = None
    threads = 0
    if torch_threads:
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
    try:
        if len(args) == 1:
            work(*args[0])
        else:
            pool = [
                threading.Thread(target=work, args=a, name=f"{name}-{i}")
                for i, a in enumerate(args)
            ]
            for t in pool:
                t.start()
            _join_all(pool, stop)
    finally:
        if torch is not None:
            torch.set_num_threads(threads)


def speech_probabilities(
    samples: np.ndarray,
    sample_rate: int = MODEL_RATE,
    options: VadOptions = VadOptions(),
    cancel: threading.Event | None = None,
    progress: Callable[[float], None] | None = None,
) -> np.ndarray:
    """Silero's speech probability for each 512-sample window of 16 kHz audio.

    ``progress`` may be called from worker threads.
    """
    if sample_rate != MODEL_RATE:
        raise ValueError(f"speech detection needs {MODEL_RATE} Hz audio, got {sample_rate} Hz")

    samples = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1)
    windows = math.ceil(len(samples) / WINDOW)
    out = np.zeros(windows, dtype=np.float32)
    if windows == 0:
        return out
    gains = normalization_gains(samples, sample_rate, options) if options.normalize else None
    workers = max(1, options.workers if options.workers is not None else _default_workers())
    plan = _plan(windows, sample_rate, options)
    workers = min(workers, plan.rows)
    groups = [g for g in np.array_split(np.arange(plan.rows), workers) if g.size]
    work = sum(last - first for g in groups for _, first, last in _blocks(plan, g))
    tracker = _Progress(work, progress)
    stop = threading.Event()
    errors: list[BaseException] = []

    def work(rows: np.ndarray) -> None:
        try:
            _run_rows(samples, gains, plan, rows, out, cancel, stop, tracker)
        except BaseException as exc:
            errors.append(exc)
            stop.set()

    # numpy's BLAS on one thread per worker (one_blas_thread): the parallelism is
    # across stretches.
    run_workers(work, [(g,) for g in groups], stop, "murmur-vad", torch_threads=False)
    if errors:
        raise errors[0]
    if cancel is not None and cancel.is_set():
        raise Cancelled()
    return out


# --------------------------------------------------------------------------- regions


def regions_from_probabilities(
    probs: np.ndarray,
    n_samples: int,
    sample_rate: int = MODEL_RATE,
    options: VadOptions = VadOptions(),
) -> list[SpeechRegion]:
    """Silero's hysteresis rules on window probabilities, then padding and clipping."""
    stamps = _silero_timestamps(
        probs,
        n_samples,
        sample_rate=sample_rate,
        threshold=options.threshold,
        min_speech_ms=round(options.min_speech_s * 1000),
        min_silence_ms=round(options.min_silence_s * 1000),
        speech_pad_ms=round(options.speech_pad_s * 1000),
    )
    return clean_regions(
        [SpeechRegion(start / sample_rate, end / sample_rate) for start, end in stamps],
        n_samples / sample_rate,
    )


def _silero_timestamps(
    probs: np.ndarray,
    n_samples: int,
    *,
    sample_rate: int,
    threshold: float,
    min_speech_ms: int,
    min_silence_ms: int,
    speech_pad_ms: int,
) -> list[list[int]]:
    """``silero_vad.utils_vad.get_speech_timestamps_from_probs`` with its defaults
    (no longest-speech cut), in samples. The same rules, written here because that
    module imports torch, which the decoding process does without;
    ``tests/test_vad.py`` checks that both give the same stamps."""
    window = 512 if sample_rate == 16000 else 256
    min_speech = sample_rate * min_speech_ms / 1000
    pad = sample_rate * speech_pad_ms / 1000
    min_silence = sample_rate * min_silence_ms / 1000
    below = max(threshold - 0.15, 0.01)
    speeches: list[list[int]] = []
    start: int | None = None  # of the speech under way
    silent_from = 0  # where the silence inside it began (0: none)
    for i, p in enumerate(np.asarray(probs, dtype=np.float64).tolist()):
        here = window * i
        if p >= threshold:
            silent_from = 0
            if start is None:
                start = here
            continue
        if p < below and start is not None:
            if not silent_from:
                silent_from = here
            if here - silent_from < min_silence:
                continue
            if silent_from - start > min_speech:
                speeches.append([start, silent_from])
            start, silent_from = None, 0
    if start is not None and n_samples - start > min_speech:
        speeches.append([start, n_samples])
    for i, speech in enumerate(speeches):
        if i == 0:
            speech[0] = int(max(0, speech[0] - pad))
        if i != len(speeches) - 1:
            gap = speeches[i + 1][0] - speech[1]
            if gap < 2 * pad:
                speech[1] += int(gap // 2)
                speeches[i + 1][0] = int(max(0, speeches[i + 1][0] - gap // 2))
            else:
                speech[1] = int(min(n_samples, speech[1] + pad))
                speeches[i + 1][0] = int(max(0, speeches[i + 1][0] - pad))
        else:
            speech[1] = int(min(n_samples, speech[1] + pad))
    return speeches


def clean_regions(regions: list[SpeechRegion], duration: float) -> list[SpeechRegion]:
    """Sort, clip to [0, duration], drop empty ones and resolve overlaps (split the overlap)."""
    out: list[SpeechRegion] = []
    for r in sorted(regions, key=lambda r: (r.start, r.end)):
        start, end = max(0.0, r.start), min(duration, r.end)
        if end <= start:
            continue
        if out and start < out[-1].end:
            prev = out[-1]
            if end <= prev.end:
                continue
            middle = (start + prev.end) / 2
            out[-1] = SpeechRegion(prev.start, middle)
            start = middle
        out.append(SpeechRegion(start, end))
    return out


def detect_speech(
    samples: np.ndarray,
    sample_rate: int = MODEL_RATE,
    options: VadOptions = VadOptions(),
    cancel: threading.Event | None = None,
    progress: Callable[[float], None] | None = None,
) -> list[SpeechRegion]:
    """Speech regions in 16 kHz mono audio: sorted, non-overlapping, inside [0, duration].

    ``progress`` gets the fraction done (0..1), possibly from worker threads.
    Raises :class:`Cancelled` when ``cancel`` is set.
    """
    probs = speech_probabilities(samples, sample_rate, options, cancel, progress)
    return regions_from_probabilities(probs, len(samples), sample_rate, options)
