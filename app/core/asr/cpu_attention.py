"""Attention for GLM-ASR's text decoder on a CPU, where PyTorch's flash kernel is slow for
decoding steps.

A decoding step asks one query per row against the whole KV cache. PyTorch's CPU
``scaled_dot_product_attention`` runs it with its flash kernel, built for long queries.
Measured on this 2-core AMD EPYC (avx512_bf16), bf16, nothing else running, GLM-ASR-Nano's
decoder (16 query heads over 4 KV heads of size 128, about 400 cached tokens, 28 layers;
``benchmarks/decode_sweep.py``):

* without a mask (a batch without padding), transformers hands SDPA the grouped heads:
  7.8 ms a layer at batch 8 against 0.37 ms for two matrix products and a softmax; a
  whole step 0.50 s against 0.31 s at batch 8, and 0.81 s against 0.40 s at batch 16;
* with padding (``--padded``), transformers already groups the heads itself: a step is
  alike at batch 8 (0.27 s against 0.28 s) and 1.2x faster here at batch 16 (0.42 s
  against 0.35 s), the CPU's default batch.

So the text decoder gets this attention function, registered with transformers'
``AttentionInterface``: one query per row is computed here (query heads grouped over their
KV head, no copy of the cache, scores and softmax in float32); anything else (the prefill,
weights asked for) goes to transformers' own SDPA function unchanged. Masks are built
exactly as for SDPA (the same mask function is registered under this name), so left
padding is honoured. The audio encoder keeps SDPA: for its 1,500 queries a window the
flash kernel and plain matrix products measured the same in the pipeline (83 s for ten
windows either way).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from app.core.asr import cpu_half

NAME = "murmur_cpu"
# Elsewhere (CUDA, MPS): SDPA for everything but the one layer whose attention is watched,
# while it is watched (:func:`gaze_attention`).
GAZE_NAME = "murmur_gaze"
_registered = False


class Watcher(Protocol):
    """What records a watched layer's decoding steps: :class:`AudioGaze` for
    ``generate``, the static decoder's recorder (:mod:`app.core.asr.static_decode`)."""

    layer: int

    def add(self, probs: Any) -> None:
        """``probs``: one step's attention, (rows, KV heads, group, keys)."""


class AudioGaze:
    """Where each decoding step of one ``generate`` listens: for every row, the last decoder
    layer's attention over that row's audio tokens (all heads summed), step by step.

    GLM-ASR gives no timestamps. In the trained listener the last layer's attention, at
    the step that produces a word, peaks on that word's audio (measured in a packed window
    of four sentences: every word's peak fell inside its own sentence), so a packed
    window's text can be shared among its pieces by where its tokens were heard
    (``app.core.pipeline``). A step reads probabilities this module computes anyway.
    """

    def __init__(self, layer: int, audio: Sequence[tuple[int, int]]) -> None:
        self.layer = layer
        self.audio = list(audio)  # per row: [first, end) of its audio tokens in the prompt
        # per step: (rows, audio keys) float32; stacked into one array when first read
        self._steps: Any = []
        self._relative = False  # True: each row's keys begin at its first audio token

    def add(self, probs: Any) -> None:
        """``probs``: one step's attention, (rows, KV heads, group, keys)."""
        size = max((end for _, end in self.audio), default=0)
        self._steps.append(probs[..., :size].sum(dim=(1, 2)).float())

    def weights(self, row: int) -> Any:
        """``row``'s attention over its audio tokens at each step: a float32 numpy array
        (steps, audio tokens), each step's row summing to at most the number of heads."""
        import numpy as np

        first, end = self.audio[row]
        if len(self._steps) == 0 or end <= first:
            return np.zeros((len(self._steps), max(0, end - first)), dtype=np.float32)
        if not isinstance(self._steps, np.ndarray):  # stacked once, for every row
            import torch

            self._steps = torch.stack(self._steps, dim=1).cpu().numpy()  # (rows, steps, keys)
        if self._relative:
            return self._steps[row, :, : end - first]
        return self._steps[row, :, first:end]

    def keep(self, looks: Any) -> None:
        """Take the steps recorded elsewhere (the static decoder's buffers,
        :mod:`app.core.asr.static_decode`): ``looks`` (rows, steps, keys) float32 where
        each row's keys begin at its own first audio token."""
        self._steps = looks
        self._relative = True


_gaze: contextvars.ContextVar[Watcher | None] = contextvars.ContextVar("gaze", default=None)


@contextlib.contextmanager
def watching(gaze: Watcher) -> Iterator[Watcher]:
    """Record ``gaze`` during the ``generate`` run inside this block (this thread only)."""
    token = _gaze.set(gaze)
    try:
        yield gaze
    finally:
        _gaze.reset(token)


def attention(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    dropout: float = 0.0,
    scaling: float | None = None,
    is_causal: bool | None = None,
    *,
    every_layer: bool = True,
    **kwargs: Any,
) -> tuple[Any, None]:
    """transformers' attention-function signature; returns ``(output, None)`` with the
    output as ``(batch, query length, heads, head size)``. The decoding steps (one query
    per row) are computed here, of every layer or (``every_layer`` False:
    :func:`gaze_attention`) only of the layer an :class:`AudioGaze` watches, while it
    watches; the rest by transformers' SDPA function."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    heads, q_len = query.shape[1], query.shape[2]
    plain = not (kwargs.get("output_attentions") or dropout or heads % key.shape[1])
    if plain and q_len == 1:
        gaze = _gaze.get()
        if gaze is not None and getattr(module, "layer_idx", None) != gaze.layer:
            gaze = None
        if every_layer or gaze is not None:
            wide = cpu_half.widened(module)
            return _decoding_step(query, key, value, attention_mask, scaling, gaze, wide)
    return sdpa_attention_forward(
        module,
        query,
        key,
        value,
        attention_mask,
        dropout=dropout,
        scaling=scaling,
        is_causal=is_causal,
        **kwargs,
    )


# The text decoder's attention on a GPU: transformers' SDPA function for every call but
# the decoding steps of the layer an AudioGaze watches, which are computed here (the same
# products and softmax as SDPA's) so that their probabilities can be recorded. So a GPU
# can place the words of packed windows (app.core.pipeline) at the cost of one explicit
# attention a step.
gaze_attention = functools.partial(attention, every_layer=False)


def _decoding_step(
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    scaling: float | None,
    gaze: Watcher | None = None,
    wide: bool = False,
) -> tuple[Any, None]:
    """One query per row. ``wide``: the products in float32 (a half-precision model on a
    CPU without instructions for it, :mod:`app.core.asr.cpu_half`, where a bf16 product of
    this size took 10 ms against 1 ms in float32)."""
    import torch

    dtype = query.dtype
    if wide:
        query = query.float()
        key, value = cpu_half.widen(key, "keys", 0.25), cpu_half.widen(value, "values", 0.25)
    batch, heads, _, size = query.shape
    kv_heads = key.shape[1]
    scale = size**-0.5 if scaling is None else scaling
    grouped = query.reshape(batch, kv_heads, heads // kv_heads, size)
    scores = torch.matmul(grouped, key.transpose(-1, -2)).float() * scale
    if attention_mask is not None:
        mask = attention_mask[..., : key.shape[-2]]
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, float("-inf"))
        else:
            scores = scores + mask.float()
    probs = torch.softmax(scores, dim=-1)
    if gaze is not None:
        gaze.add(probs)
    probs = probs.to(value.dtype)
    out = torch.matmul(probs, value)  # (batch, kv heads, group, size)
    return out.to(dtype).reshape(batch, 1, heads, size), None


def register() -> None:
    """Make :data:`NAME` known to transformers (attention and mask functions); once."""
    global _registered
    if _registered:
        return
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(NAME, attention)
    AttentionMaskInterface.register(NAME, sdpa_mask)
    AttentionInterface.register(GAZE_NAME, gaze_attention)
    AttentionMaskInterface.register(GAZE_NAME, sdpa_mask)
    _registered = True


def use_for_text_decoder(model: Any, name: str = NAME) -> bool:
    """Give ``model``'s text decoder this attention (:data:`NAME`, the caller knows the
    model runs on a CPU) or :data:`GAZE_NAME` (elsewhere) if it uses SDPA. Returns whether
    it was switched."""
    text = getattr(getattr(model, "config", None), "text_config", None)
    if getattr(text, "_attn_implementation", None) != "sdpa":
        return False
    register()
    model.set_attn_implementation({"text_config": name})
    return bool(text._attn_implementation == name)


def records_gaze(model: Any) -> bool:
    """Whether ``model``'s text decoder runs an attention of this module, which can
    record where it listened (:class:`AudioGaze`)."""
    text = getattr(getattr(model, "config", None), "text_config", None)
    return getattr(text, "_attn_implementation", None) in (NAME, GAZE_NAME)
