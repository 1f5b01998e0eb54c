"""Greedy decoding on a static KV cache, its steps replayed from CUDA graphs.

transformers' ``generate`` launches each decoding step's few hundred kernels from Python.
On an H200 that took about 40 ms a step whatever the batch (16 to 256 chunks), where the
GPU's own work for a step of this 1.5 B decoder is a few milliseconds: on an hour of
speech, decoding steps were half of the wall time (benchmarks/README.md, "On a GPU").

:class:`StaticDecoder` does the same greedy decoding with the step as one function over
fixed buffers: the token fed, its position, the attention mask over a static cache, the
cache slot written. Everything a step changes (the mask, the position, which rows are
done, the tokens so far) is changed in place inside the step, so that on CUDA the step
is captured once per batch shape as a CUDA graph (``torch.cuda.CUDAGraph``) and replayed:
one launch a step, and the host never waits for the GPU until a batch ends (it looks
whether every row has ended every :data:`CHECK_EVERY` steps). Off CUDA the same step runs
eagerly, which is how the tests check it against ``generate`` token for token.

The prefill is the model's own forward (the audio merged into the prompt) into the same
static cache. The output equals ``generate``'s greedy output: the first token from the
prefill, then one a step; a row that has produced an end token gets the pad token after
it. It applies only where ``generate`` would use no logits processor (no repetition
penalty or n-gram ban: the anti-repetition retries keep ``generate``).

It can also record where the decoder listened (:class:`~app.core.asr.cpu_attention.
AudioGaze`, what places the words of packed windows): the watched layer's attention over
each row's audio tokens is written step by step into a fixed buffer of the slot, gathered
there from the whole cache by a per-row index, so that the recording is part of the graph.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.core.asr.cpu_attention import AudioGaze, watching

log = logging.getLogger(__name__)

# The static cache's length is rounded up to this, so that batches with other prompt
# lengths and token budgets share a cache and a graph.
LENGTH_STEP = 256
# Steps between looks at whether every row has ended (each look waits for the GPU).
CHECK_EVERY = 8
# Batch shapes (rows, cache length, gaze width) whose cache and graph are kept.
KEEP_SHAPES = 3
# The audio tokens a recording keeps per row are rounded up to this (one graph serves
# batches whose rows hold up to that many audio tokens).
GAZE_STEP = 64


@dataclass
class _Slot:
    """A static cache for one batch shape, the step's buffers, and its CUDA graph."""

    rows: int
    length: int
    cache: Any
    ids: Any = None  # (rows, 1) the token fed to the step
    positions: Any = None  # (rows, 1) its position
    mask: Any = None  # (rows, 1, 1, length) bool: the cache slots each row attends to
    slot: Any = None  # (1,) the cache slot the step writes
    done: Any = None  # (rows,) bool: the row has produced an end token
    tokens: Any = None  # (rows, length) the tokens produced
    count: Any = None  # (1,) how many tokens are in ``tokens``
    graph: Any = None
    gaze: _Recorder | None = None  # records the watched layer's attention (gaze width > 0)


class _Recorder:
    """Writes one decoding step's attention of the watched layer, over each row's audio
    tokens, into fixed buffers: what a captured graph can replay. Stands where
    :class:`~app.core.asr.cpu_attention.AudioGaze` stands for ``generate``."""

    def __init__(self, layer: int, rows: int, length: int, width: int, device: Any) -> None:
        import torch

        self.layer = layer
        self.width = width
        # (rows, width): the cache slots of each row's audio tokens, from its first one
        self.index = torch.zeros(rows, width, dtype=torch.long, device=device)
        # (rows, steps, width): step k's attention, all heads summed, float32
        self.looks = torch.zeros(rows, length, width, dtype=torch.float32, device=device)
        self.count: Any = None  # the slot's ``count``: step k is written while it is k + 1

    def add(self, probs: Any) -> None:
        """``probs``: one step's attention, (rows, KV heads, group, cache slots)."""
        picked = probs.sum(dim=(1, 2)).float().gather(1, self.index)
        self.looks.index_copy_(1, self.count - 1, picked[:, None, :])


class StaticDecoder:
    """Greedy decoding of a GLM-ASR model on static caches (see the module's doc).

    ``graphs``: capture each step as a CUDA graph (a CUDA model only); False runs the same
    steps eagerly. If a capture fails, the decoder says so in the log once and goes on
    eagerly (the same tokens, without the speed-up)."""

    def __init__(self, model: Any, graphs: bool) -> None:
        self.model = model
        self.graphs = graphs
        self._slots: OrderedDict[tuple[int, int, int, int | None], _Slot] = OrderedDict()
        self._language_model = model.model.language_model
        self._embed = model.get_input_embeddings()
        self._head = model.get_output_embeddings()
        self._cache_kw = _cache_keyword(model.forward)
        self._lm_cache_kw = _cache_keyword(self._language_model.forward)
        self.captured = 0  # graphs captured (for tests and benchmarks)
        self._ends_key: tuple[Any, ...] | None = None
        self._eos: Any = None
        self._pad: Any = None

    def clear(self) -> None:
        """Free every cache and graph (after running out of memory, or on unload)."""
        self._slots.clear()

    def generate(
        self,
        inputs: Mapping[str, Any],
        max_new_tokens: int,
        eos_ids: Sequence[int],
        pad_id: int,
        on_token: Callable[[int], bool] | None = None,
        gaze: AudioGaze | None = None,
    ) -> Any:
        """The new tokens, (rows, at most ``max_new_tokens``), of greedy decoding.
        ``on_token(k)`` is called after token k of every row is decided (host side, ahead
        of the GPU); True stops the decoding there. ``gaze``: record where each step
        listened (its layer, over each row's audio tokens; the decoder must run an
        attention of :mod:`app.core.asr.cpu_attention`); filled when this returns."""
        ids = inputs["input_ids"]
        mask = inputs["attention_mask"]
        rows, prompt = int(ids.shape[0]), int(ids.shape[1])
        budget = max(1, int(max_new_tokens))
        length = -(-(prompt + budget) // LENGTH_STEP) * LENGTH_STEP
        width = 0
        if gaze is not None:
            widest = max((end - first for first, end in gaze.audio), default=0)
            width = max(1, -(-widest // GAZE_STEP)) * GAZE_STEP
        self._ends(eos_ids, pad_id, ids.device)
        slot = self._slot(rows, length, width, None if gaze is None else gaze.layer)
        slot.cache.reset()
        positions = mask.long().cumsum(-1) - 1
        positions = positions.masked_fill(mask == 0, 0)
        prefill = self.model(
            **inputs,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,
            **{self._cache_kw: slot.cache},
        )
        first = prefill.logits[:, -1, :].float().argmax(-1)
        del prefill
        self._fill(slot, first, mask, positions, prompt)
        if gaze is not None:
            assert slot.gaze is not None
            self._aim(slot.gaze, gaze, length)
        produced = 1
        if on_token is None or not on_token(produced):
            with watching(slot.gaze) if slot.gaze is not None else contextlib.nullcontext():
                produced = self._steps(slot, budget, on_token)
        if gaze is not None:
            assert slot.gaze is not None
            looks = slot.gaze.looks[:, : produced - 1]
            kept = looks.cpu().numpy()
            gaze.keep(kept.copy() if looks.device.type == "cpu" else kept)
        return slot.tokens[:, :produced].clone()

    # ------------------------------------------------------------------ internals

    def _steps(self, slot: _Slot, budget: int, on_token: Callable[[int], bool] | None) -> int:
        """The decoding steps after the prefill's token; returns the tokens produced."""
        produced = 1
        while produced < budget:
            if slot.graph is not None:
                slot.graph.replay()
            elif budget - produced > 2 and self._capture(slot):
                pass  # the capture's warm-up took this step
            else:
                self._step(slot)
            produced += 1
            if on_token is not None and on_token(produced):
                break
            if produced % CHECK_EVERY == 0 and bool(slot.done.all()):
                break
        return produced

    @staticmethod
    def _aim(recorder: _Recorder, gaze: AudioGaze, length: int) -> None:
        """Point the recorder at this batch's audio tokens: row r's keys from its first
        audio token on (slots past the cache repeat its last one; only a row's own
        audio tokens are read back)."""
        import torch

        first = torch.tensor([a for a, _ in gaze.audio], device=recorder.index.device)
        keys = first[:, None] + torch.arange(recorder.width, device=first.device)[None, :]
        recorder.index.copy_(keys.clamp_(max=length - 1))

    def _step(self, slot: _Slot) -> None:
        """One decoding step, every change in place (capturable as a CUDA graph)."""
        import torch

        slot.mask.index_fill_(3, slot.slot, True)
        hidden = self._language_model(
            inputs_embeds=self._embed(slot.ids),
            attention_mask=slot.mask,
            position_ids=slot.positions,
            use_cache=True,
            **{self._lm_cache_kw: slot.cache},
        ).last_hidden_state
        logits = self._head(hidden[:, -1:, :])[:, -1, :]
        chosen = logits.float().argmax(-1)
        chosen = torch.where(slot.done, self._pad, chosen)
        slot.done.logical_or_(torch.isin(chosen, self._eos))
        slot.tokens.index_copy_(1, slot.count, chosen[:, None])
        slot.count.add_(1)
        slot.ids.copy_(chosen[:, None])
        slot.positions.add_(1)
        slot.slot.add_(1)

    def _ends(self, eos_ids: Sequence[int], pad_id: int, device: Any) -> None:
        """The end and pad tokens as tensors a graph can hold (made again, and the
        graphs with them, only if they change)."""
        import torch

        wanted = (tuple(int(e) for e in eos_ids), int(pad_id), str(device))
        if wanted != self._ends_key:
            self._eos = torch.tensor(wanted[0] or (-1,), device=device)
            self._pad = torch.tensor(wanted[1], device=device)
            self._ends_key = wanted
            for slot in self._slots.values():
                slot.graph = None

    def _slot(self, rows: int, length: int, width: int = 0, layer: int | None = None) -> _Slot:
        """The cache and buffers for this shape; ``width`` > 0: with a recorder of that
        many audio tokens a row, watching ``layer``."""
        key = (rows, length, width, layer)
        found = self._slots.get(key)
        if found is not None:
            self._slots.move_to_end(key)
            return found
        from transformers import StaticCache

        while len(self._slots) >= KEEP_SHAPES:
            self._slots.popitem(last=False)
        config = self.model.config.get_text_config()
        slot = _Slot(rows, length, StaticCache(config=config, max_cache_len=length))
        if width and layer is not None:
            device = self._embed.weight.device
            slot.gaze = _Recorder(layer, rows, length, width, device)
        self._slots[key] = slot
        return slot

    def _fill(self, slot: _Slot, first: Any, mask: Any, positions: Any, prompt: int) -> None:
        """Set the step's buffers for a new batch after its prefill: in place where they
        exist, since a captured graph reads them where they are."""
        import torch

        device = first.device
        attend = torch.zeros(slot.rows, 1, 1, slot.length, dtype=torch.bool, device=device)
        attend[:, 0, 0, :prompt] = mask.bool()
        values = {
            "ids": first[:, None],
            "positions": positions[:, -1:] + 1,
            "mask": attend,
            "slot": torch.tensor([prompt], device=device),
            "done": torch.isin(first, self._eos),
            "count": torch.tensor([1], device=device),
        }
        if slot.ids is None:
            for name, value in values.items():
                setattr(slot, name, value.clone())
            slot.tokens = torch.zeros(slot.rows, slot.length, dtype=torch.long, device=device)
            if slot.gaze is not None:
                slot.gaze.count = slot.count
        else:
            for name, value in values.items():
                getattr(slot, name).copy_(value)
        slot.tokens[:, 0] = first

    def _capture(self, slot: _Slot) -> bool:
        """Capture :meth:`_step` as this slot's CUDA graph (when graphs are wanted and the
        model is on CUDA). A capture needs the step run first on a side stream: that is
        a real step of the batch, so this returns whether it took one, also when the
        capture itself then fails (the decoder says so once and goes on eagerly)."""
        import torch

        if not self.graphs or slot.ids.device.type != "cuda":
            return False
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            self._step(slot)  # the warm-up
        torch.cuda.current_stream().wait_stream(side)
        try:
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                self._step(slot)  # recorded, not run
        except Exception as exc:  # a failed capture: the same steps, eagerly
            log.warning("CUDA graphs of the decoding step failed (%s); decoding eagerly", exc)
            self.graphs = False
            torch.cuda.synchronize()
        else:
            slot.graph = graph
            self.captured += 1
        return True


def _cache_keyword(forward: Callable[..., Any]) -> str:
    """The name a forward takes its KV cache by: ``cache`` in newer transformers,
    ``past_key_values`` before."""
    try:
        names = inspect.signature(forward).parameters
    except (TypeError, ValueError):
        return "past_key_values"
    return "cache" if "cache" in names else "past_key_values"
