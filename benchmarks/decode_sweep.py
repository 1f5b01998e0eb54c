"""CPU batch size for the real GLM-ASR decoder: prefill and decoding-step cost per batch size.

Builds only GLM-ASR-Nano's text decoder (``GlmAsrConfig().text_config``: 28-layer Llama,
2048 wide, GQA 16/4 heads, vocabulary 59,264) with random weights, and for each batch size
times, in the same run:

- the prefill of one chunk's prompt (375 audio tokens of a 30 s window + 20 prompt tokens),
  once: it is compute-bound, so it costs the same per row at any batch size;
- a decoding step of the whole batch, every row holding that prompt's KV cache (the
  median of ``--steps``).

A chunk of ``--seconds`` of speech needs about ``4 x seconds`` text tokens, so a batch of B
such chunks costs ``B x (encoder + prefill per row) + tokens x step(B)``; the table prints
the decoding part per chunk (``tokens x step(B) / B``) and its ratio against batch 1. The
encoder (8.7 s per 30 s window, ``glmasr-facts.md``) does not depend on the batch.

    python benchmarks/decode_sweep.py                      # 1,2,4,8,12,16,24,32
    python benchmarks/decode_sweep.py --sizes 8,16 --steps 12

Each size is timed with PyTorch's SDPA (the baseline) and with Murmur's CPU decoding-step
attention (``app.core.asr.cpu_attention``), in the same run. The last line names the batch
size and attention with the lowest decoding cost per chunk.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.core.asr import cpu_attention  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,2,4,8,12,16,24,32")
    parser.add_argument("--steps", type=int, default=8, help="decoding steps timed per size")
    parser.add_argument("--prompt-tokens", type=int, default=395)
    parser.add_argument("--seconds", type=float, default=25.0, help="speech per chunk")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--layers", type=int, help="fewer decoder layers, for quick looks")
    parser.add_argument(
        "--attention",
        default="both",
        choices=("both", "sdpa", "murmur"),
        help="PyTorch's SDPA, app.core.asr.cpu_attention, or both in the same run",
    )
    parser.add_argument(
        "--padded", action="store_true", help="one row left-padded: generate passes a mask"
    )
    args = parser.parse_args(argv)

    import torch
    from transformers import GlmAsrConfig, LlamaForCausalLM

    torch.set_num_threads(args.threads or len(os.sched_getaffinity(0)))
    config = GlmAsrConfig().text_config
    if args.layers:
        config.num_hidden_layers = args.layers
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        torch.manual_seed(0)
        model = LlamaForCausalLM(config).eval()
    finally:
        torch.set_default_dtype(previous)
    tokens = round(4 * args.seconds)
    print(
        f"decoder: {config.num_hidden_layers} layers, {config.hidden_size} wide, bf16, "
        f"threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}"
    )
    print(f"prompt {args.prompt_tokens} tokens; {tokens} text tokens per chunk")
    print()
    ids = torch.randint(100, 50_000, (1, args.prompt_tokens))
    with torch.inference_mode():
        t = time.perf_counter()
        first = model(input_ids=ids, use_cache=True, logits_to_keep=1)
        prefill = time.perf_counter() - t  # compute-bound: the same per row at any batch
    print(f"prefill of one prompt: {prefill:.2f} s")
    print()
    impls = {"sdpa": "sdpa", "murmur": cpu_attention.NAME}
    chosen = ["sdpa", "murmur"] if args.attention == "both" else [args.attention]
    cpu_attention.register()
    print("| batch | attention | decoding step | tokens/s | decoding per chunk | vs batch 1 SDPA |")
    print("|---|---|---|---|---|---|")
    base = None
    best: tuple[float, int, str] | None = None
    for size in [int(s) for s in args.sizes.split(",")]:
        for name in chosen:
            model.set_attn_implementation(impls[name])
            step = _step_time(model, first, size, args.steps, args.padded)
            per_chunk = tokens * step / size
            base = base or per_chunk
            if best is None or per_chunk < best[0]:
                best = (per_chunk, size, name)
            print(
                f"| {size} | {name} | {step:.3f} s | {size / step:.1f} | "
                f"{per_chunk:.2f} s | {base / per_chunk:.2f}x |",
                flush=True,
            )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    assert best is not None
    print(f"BEST batch {best[1]} with {best[2]} attention")
    return 0


def _step_time(model: Any, first: Any, size: int, steps: int, padded: bool) -> float:
    """Median time of one decoding step of ``size`` rows, each holding ``first``'s cache."""
    import torch

    cache = copy.deepcopy(first.cache)
    cache.batch_repeat_interleave(size)  # every row holds the prompt's KV
    step_ids = first.logits[:, -1:].argmax(-1).repeat(size, 1)
    # as in a batch of chunks of different lengths: left padding, so generate passes a mask
    mask = torch.ones(size, cache.get_seq_length() + 1, dtype=torch.long)
    if padded:
        mask[0, :8] = 0
    times = []
    with torch.inference_mode():
        for _ in range(steps + 1):
            t = time.perf_counter()
            out = model(
                input_ids=step_ids,
                cache=cache,
                use_cache=True,
                attention_mask=mask if padded else None,
            )
            mask = torch.cat([mask, mask[:, -1:]], dim=1)
            times.append(time.perf_counter() - t)
            cache = out.cache
            step_ids = out.logits[:, -1:].argmax(-1)
    return statistics.median(times[1:])  # the first step warms the new shapes


if __name__ == "__main__":
    raise SystemExit(main())
