"""bf16 (and fp16) weights on a CPU without bf16 instructions: the products in float32.

PyTorch's CPU build reaches oneDNN's fast bf16 products only where the CPU has bf16
instructions (AVX512-BF16, AMX). Elsewhere, and that is most laptops' CPUs (AVX2 only),
a bf16 matrix product falls back to a plain loop. Measured on a 2-core AMD EPYC of the
Zen 3 family (AVX2, no AVX-512), torch 2.13, 2 threads:

- a 1500 x 1280 x 5120 product (the encoder's MLP): 983 ms in bf16, 125 ms in float32;
- the encoder's second convolution over one window: 17.3 s in bf16, 99 ms in float32;
- so one 30 s window through GLM-ASR-Nano's encoder took about 25x as long in bf16 as in
  float32, and the model's 4.3 GB in bf16 were no use to a machine short of memory.

Here each ``nn.Linear`` and ``nn.Conv1d`` of a half-precision model keeps its weights in
bf16 and widens them to float32 for the product, a block at a time into a scratch buffer
that is reused (a fresh 50 MB tensor would cost its page faults on every call: 22 ms
against 3 ms to copy into one already mapped). Inputs are widened, the product is a
float32 one, and the result is rounded back to bf16: what a native bf16 product computes
(float32 accumulation, a bf16 result), to the order of its sums.

How a product is done depends on its rows (times on that CPU, one 6144 x 2048 weight):

- up to :data:`_NATIVE_ROWS` rows (a decoding step of one chunk), the native bf16
  product: memory-bound, it reads half the bytes of float32 (1.3 ms against 2.6 ms);
- fewer than :data:`_WHOLE_ROWS` rows (a decoding step of a batch), blocks of the weight
  against the transposed input: 5.7 ms at 16 rows, against 9.3 ms in float32 and 19.4 ms
  native; the 59,264-wide output layer 49 ms against 113 ms and 191 ms. Below
  :data:`_PAD_BELOW` rows the input is padded with zero rows to a multiple of
  :data:`_PAD_TO`: float32 products against 13 columns took more than twice as long as
  against 16 (a 512 x 2048 block: 0.60 ms against 0.25 ms), and a decoding step of 13
  chunks through the whole text decoder 0.94-0.99 s padded against 1.36-1.55 s;
- from :data:`_WHOLE_ROWS` rows on (prefill, the encoder), the whole weight widened once,
  then one product: float32's speed (227-238 ms against 237 ms at 1,500 rows).

The whole of ``benchmarks/rtf.py --minutes 5 --verdict placed`` on that CPU: RTF 1.32
widened (encoder 245 s, prefill 90 s, decoding steps 91 s; peak RSS 5.2 GB) against 1.23
in float32 (235 s, 78 s, 81 s; 9.8 GB). The attention of the decoding steps is widened
too (:mod:`app.core.asr.cpu_attention`, in the layers whose projections are widened).

Not installed where the CPU has the instructions (there the native products are faster
than float32: an encoder window 8.7 s in bf16 against 14.4 s, ``glmasr-facts.md``), nor on
a GPU, nor for float32 or int8 models.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

_NATIVE_ROWS = 4
_WHOLE_ROWS = 128
# The blocked product's rows are padded with zeros to a multiple of this below
# :data:`_PAD_BELOW` rows: float32 products against a few columns are far faster at 16
# than at 13 (a 512 x 2048 block of the weight against 13 columns: 0.60 ms; 16: 0.25 ms).
_PAD_TO = 16
_PAD_BELOW = 64
# Weight elements widened at a time in the blocked product (4 MB of float32: the blocks
# stay in the caches), and the largest weight widened whole (64 MB of float32).
_BLOCK_ELEMENTS = 1 << 20
_WHOLE_ELEMENTS = 1 << 24


class _Scratch(threading.local):
    buffers: dict[str, Any] | None = None


_scratch = _Scratch()


def widen(tensor: Any, name: str, spare: float = 0.0) -> Any:
    """``tensor`` in float32, in this thread's scratch buffer called ``name`` (valid until
    the next call with that name on this thread). Widening into fresh tensors costs their
    page faults every time (a 50 MB weight: 22 ms against 3 ms into a buffer already
    mapped; a decoding step's KV caches: 5-9 % of the step). ``spare``: room made for
    that share more when the buffer grows (a cache gains a token a step)."""
    import torch

    if _scratch.buffers is None:
        _scratch.buffers = {}
    count = tensor.numel()
    buffer = _scratch.buffers.get(name)
    if buffer is None or buffer.numel() < count:
        # a normal tensor even when made under inference mode, so that it can be written
        # outside it too
        with torch.inference_mode(False):
            size = count + int(count * spare)
            buffer = _scratch.buffers[name] = torch.empty(size, dtype=torch.float32)
    out = buffer[:count].view(tensor.shape)
    out.copy_(tensor)
    return out


def _widened(weight: Any, start: int = 0, stop: int | None = None) -> Any:
    """Rows ``start:stop`` of ``weight`` in float32, in this thread's scratch buffer for
    weights (valid until the next call on this thread)."""
    return widen(weight[start:stop], "weights")


def linear(x: Any, weight: Any, bias: Any = None) -> Any:
    """``F.linear(x, weight, bias)`` with half-precision ``x`` and ``weight``, computed in
    float32 and rounded back to ``x``'s dtype."""
    import torch
    import torch.nn.functional as F

    width, inner = weight.shape
    rows = x.numel() // max(1, inner)
    if rows <= _NATIVE_ROWS:
        return F.linear(x, weight, bias)
    flat = x.reshape(rows, inner).float()
    if rows >= _WHOLE_ROWS and weight.numel() <= _WHOLE_ELEMENTS:
        whole = _widened(weight).t()
        out = flat @ whole if bias is None else torch.addmm(bias.float(), flat, whole)
    else:
        step = max(16, _BLOCK_ELEMENTS // inner)
        padded = -(-rows // _PAD_TO) * _PAD_TO if rows < _PAD_BELOW else rows
        if padded != rows:
            flat = torch.cat([flat, flat.new_zeros(padded - rows, inner)])
        across = torch.empty(width, padded, dtype=torch.float32)
        columns = flat.t()
        for start in range(0, width, step):
            stop = min(width, start + step)
            torch.matmul(_widened(weight, start, stop), columns, out=across[start:stop])
        out = across[:, :rows].t()
        if bias is not None:
            out = out + bias.float()
    out = out.to(x.dtype, memory_format=torch.contiguous_format)
    return out.reshape(*x.shape[:-1], width)


def _linear_forward(module: Any, x: Any) -> Any:
    return linear(x, module.weight, module.bias)


def _conv_forward(module: Any, x: Any) -> Any:
    bias = None if module.bias is None else module.bias.float()
    return module._conv_forward(x.float(), _widened(module.weight), bias).to(x.dtype)


def native(dtype: Any) -> bool:
    """Whether this CPU has instructions for products in ``dtype`` (bf16 or fp16)."""
    import torch

    from app.core.asr.model_loader import cpu_flags, cpu_supports_bf16

    if dtype == torch.bfloat16:
        return cpu_supports_bf16()
    if dtype == torch.float16:
        return bool({"avx512_fp16", "amx_fp16"} & cpu_flags())
    return True


def widen_products(model: Any, force: bool = False) -> int:
    """Make every half-precision ``nn.Linear`` and ``nn.Conv1d`` of ``model`` compute in
    float32 where this CPU has no instructions for its dtype (``force``: whatever the
    CPU). Returns how many modules were changed (0 where nothing applies)."""
    import torch

    changed = 0
    natives: dict[Any, bool] = {}  # asked once per dtype (it reads /proc/cpuinfo)
    for module in model.modules():
        if hasattr(module, "_murmur_widened"):
            continue
        if isinstance(module, torch.nn.Linear):
            forward = _linear_forward
        elif isinstance(module, torch.nn.Conv1d):
            forward = _conv_forward
        else:
            continue
        weight = module.weight
        if weight.device.type != "cpu" or weight.dtype not in (torch.bfloat16, torch.float16):
            continue
        if not force:
            if weight.dtype not in natives:
                natives[weight.dtype] = native(weight.dtype)
            if natives[weight.dtype]:
                continue
        module.forward = functools.partial(forward, module)
        module._murmur_widened = True
        changed += 1
    return changed


def widened(module: Any) -> bool:
    """Whether ``module`` (an attention layer) has its projections widened: then
    :mod:`app.core.asr.cpu_attention` computes its decoding steps in float32 too."""
    return hasattr(getattr(module, "q_proj", None), "_murmur_widened")
