"""GLM-ASR's prefill on a CPU: each row of a batch without the batch's left padding.

A batch's prompts are left-padded to the longest, and the text decoder's prefill
computes every position, padding included: 28 layers over (rows x longest) tokens. On a
CPU the prefill is compute-bound (about 80 ms a row and layer for 300 tokens here, at
the speed of a plain bf16 matrix product, whether rows go one at a time or thirteen
together), so the padding costs its share in full: on ``benchmarks/rtf.py``'s packed
windows (17-22 s of audio each) about 9 % of the prefill.

So the language model's prefill runs row by row, each row over its own tokens only,
and the rows' key/value caches are then laid side by side, left-padded with zeros
(masked out, as padding always is) into the cache ``generate`` goes on with. The hidden
states of the padding are zeros; ``generate`` reads only the last position's. Every real
token sees the same keys at the same positions as in the padded batch, so the output is
the batch's (to the rounding of matrix products of another shape). The decoding steps
are unchanged. On a GPU the padded batch stays: there the prefill is cheap. So does a
small model's (the test listener's: 0.9 M weights a token), where one call per row
costs more than the padding: rows go alone only where the work saved comes to at least
:data:`_MIN_SAVED_FLOP` for each extra call.
"""

from __future__ import annotations

import functools
from typing import Any

# Work the padding would cost, per extra call, below which the padded batch stays. An
# extra call of the language model cost the listener about 2 ms (a batch of 16 held-out
# sentences, one thread: 197-233 ms row by row against 172-200 ms padded); 1 GFLOP is
# about 3 ms of a bf16 matrix product here. GLM-ASR-Nano saves about 90 GFLOP a row on
# rtf.py's windows.
_MIN_SAVED_FLOP = 1e9


def prefill_rows_alone(model: Any) -> bool:
    """Make ``model``'s text decoder run a left-padded prefill row by row. Returns
    whether it applies (once)."""
    lm = getattr(getattr(model, "model", None), "language_model", None)
    if lm is None or hasattr(lm, "_murmur_rows"):
        return False
    whole = lm.forward
    layers = getattr(lm, "layers", ())
    # a token's work: two FLOP for each weight of the decoder layers
    per_token = 2.0 * sum(p.numel() for layer in layers for p in layer.parameters())

    # the wrapper's signature is the forward's (callers inspect it: static_decode asks it
    # which keyword takes the cache)
    @functools.wraps(whole)
    def forward(*args: Any, **kwargs: Any) -> Any:
        if args or not _applies(kwargs) or not _worth_it(kwargs["attention_mask"], per_token):
            return whole(*args, **kwargs)
        return _by_rows(lm, whole, kwargs)

    lm.forward = forward
    lm._murmur_rows = True
    return True


def _applies(kwargs: dict[str, Any]) -> bool:
    """A prefill of a left-padded batch into an empty dynamic cache, nothing else asked."""
    embeds = kwargs.get("inputs_embeds")
    mask = kwargs.get("attention_mask")
    cache = kwargs.get("cache")
    if (
        embeds is None
        or kwargs.get("input_ids") is not None
        or mask is None
        or getattr(mask, "ndim", 0) != 2
        or embeds.shape[0] < 2
        or embeds.shape[1] < 2
        or type(cache).__name__ != "DynamicCache"
        or cache.get_seq_length() != 0
        or kwargs.get("output_attentions")
        or kwargs.get("output_hidden_states")
        or kwargs.get("use_cache") is False
    ):
        return False
    import torch

    lengths = mask.sum(dim=1)
    if bool((lengths == mask.shape[1]).all()):
        return False  # no padding: nothing to gain
    # left padding only: each row's ones are one run at its end
    ends = (
        torch.arange(mask.shape[1], device=mask.device)[None, :]
        >= (mask.shape[1] - lengths)[:, None]
    )
    return bool((mask.bool() == ends).all()) and bool((lengths > 0).all())


def _worth_it(mask: Any, per_token: float) -> bool:
    """Does the padding cost at least :data:`_MIN_SAVED_FLOP` for each extra call?"""
    padding = int(mask.numel() - int(mask.sum()))
    return padding * per_token >= _MIN_SAVED_FLOP * (mask.shape[0] - 1)


def _by_rows(lm: Any, whole: Any, kwargs: dict[str, Any]) -> Any:
    import torch
    from transformers import DynamicCache
    from transformers.modeling_outputs import BaseModelOutputWithPast

    embeds = kwargs["inputs_embeds"]
    mask = kwargs["attention_mask"]
    cache = kwargs["cache"]
    positions = kwargs.get("position_ids")
    rest = {
        k: v
        for k, v in kwargs.items()
        if k not in ("inputs_embeds", "attention_mask", "cache", "position_ids", "use_cache")
    }
    rows, width = mask.shape
    lengths = mask.sum(dim=1).tolist()
    hidden = embeds.new_zeros(rows, width, lm.config.hidden_size)
    caches = []
    for row, length in enumerate(lengths):
        pad = width - int(length)
        own = DynamicCache(config=lm.config)
        where = (
            positions[row : row + 1, pad:]
            if positions is not None and positions.shape[0] == rows
            else torch.arange(int(length), device=embeds.device)[None, :]
        )
        out = whole(
            inputs_embeds=embeds[row : row + 1, pad:],
            attention_mask=None,
            position_ids=where,
            cache=own,
            use_cache=True,
            **rest,
        )
        hidden[row, pad:] = out.last_hidden_state[0]
        caches.append((pad, own))
    for index in range(len(caches[0][1].layers)):
        first = caches[0][1].layers[index].keys
        heads, size = first.shape[1], first.shape[3]
        keys = first.new_zeros(rows, heads, width, size)
        values = first.new_zeros(rows, heads, width, caches[0][1].layers[index].values.shape[3])
        for row, (pad, own) in enumerate(caches):
            keys[row, :, pad:] = own.layers[index].keys[0]
            values[row, :, pad:] = own.layers[index].values[0]
        cache.update(keys, values, index)
    return BaseModelOutputWithPast(last_hidden_state=hidden, cache=cache)
