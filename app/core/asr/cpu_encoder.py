"""GLM-ASR's audio encoder on a CPU: a batch's windows one at a time.

The encoder sees every chunk as a whole 30 s window: 1,500 frames through 32 layers,
1280 wide, 20 heads of 64. On this 2-core AMD EPYC (avx512_bf16, torch 2.13) a batch of 13
windows through one layer took 274-278 ms a window in bf16, one window alone 241-244 ms;
in float32 492 ms against 451 ms (interleaved runs of the same layer, helpers paused). A
batch's activations (200 MB for the MLP's 5120-wide middle) leave the caches, one
window's (15 MB) do not. So a batch is encoded in groups whose MLP activations stay
within :data:`_GROUP_BYTES`: one window of GLM-ASR-Nano's, the whole batch of a small model
such as the test listener's (0.5 MB a window), where more calls would only add overhead.
The output is the whole batch's (each window is encoded alone anyway: the encoder has no
attention mask and mixes nothing across the batch); in bf16 a matrix product of another
shape may round differently. On a GPU the whole batch stays together.

Tried and not kept: attention head by head in tiles of 512 queries. With the scores in
bf16, as transformers' own ``eager`` attention computes them (bit for bit), a layer took
211-221 ms against 227-240 ms with SDPA; but those scores are rounded to bf16 before the
softmax, and on logits as sharp as a trained encoder's can be (a standard deviation of 4)
the output strayed 7x further from a float64 reference than SDPA's (RMS 0.011 against
0.0018). With float32 scores the tiles were no faster than SDPA (231-244 ms).
"""

from __future__ import annotations

from typing import Any

# A group's MLP activations (positions x intermediate size x bytes) stay within this:
# one window of GLM-ASR-Nano's (1,500 x 5,120 x 2 bytes = 15.4 MB) measured fastest.
_GROUP_BYTES = 16 << 20


def group_size(positions: int, intermediate: int, itemsize: int) -> int:
    """Windows per group for an encoder of this shape (at least one)."""
    return max(1, _GROUP_BYTES // max(1, positions * intermediate * itemsize))


def encode_in_groups(model: Any, windows: int | None = None) -> bool:
    """Make ``model``'s audio encoder run a batch ``windows`` windows at a time (None: as
    many as :func:`group_size` allows), their outputs concatenated as the whole batch's
    would be. Returns whether it applies."""
    tower = getattr(getattr(model, "model", None), "audio_tower", None)
    if tower is None or (windows is not None and windows < 1) or hasattr(tower, "_murmur_windows"):
        return False
    whole = tower.forward
    intermediate = int(getattr(tower.config, "intermediate_size", 0) or 0)

    def forward(input_features: Any, *args: Any, **kwargs: Any) -> Any:
        count = input_features.shape[0]
        if args or set(kwargs) - {"return_dict"} or kwargs.get("return_dict") is False:
            return whole(input_features, *args, **kwargs)
        group = windows or group_size(
            # the second convolution halves the frames
            (input_features.shape[-1] + 1) // 2,
            intermediate,
            input_features.element_size(),
        )
        if count <= group:
            return whole(input_features, *args, **kwargs)
        import torch

        outputs = [
            whole(input_features[i : i + group], return_dict=True) for i in range(0, count, group)
        ]
        first = outputs[0]
        first.last_hidden_state = torch.cat([o.last_hidden_state for o in outputs])
        return first

    tower.forward = forward
    tower._murmur_windows = windows  # None: sized per call
    return True
