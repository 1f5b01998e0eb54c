"""bf16 weights on a CPU without bf16 instructions (app/core/asr/cpu_half.py): the products
in float32, rounded as a native bf16 product rounds them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from app.core.asr import cpu_half
from app.core.asr import model_loader as ml
from app.core.asr.engine import Engine, EngineOptions
from app.core.errors import ModelError
from tests.fixtures_model import decoded_by_each
from tests.listener_speech import HELD_OUT_SEED, LISTENER, WER_BAR, sentence_clips, wer


def _operands(
    rows: int, inner: int, width: int, dtype: torch.dtype, batch: int = 2
) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(rows * 7 + inner)
    x = torch.randn(batch, rows, inner, generator=gen).to(dtype)
    w = (torch.randn(width, inner, generator=gen) / inner**0.5).to(dtype)
    b = torch.randn(width, generator=gen).to(dtype)
    return x, w, b


def _relative(a: torch.Tensor, exact: torch.Tensor) -> float:
    return float((a.double() - exact).norm() / exact.norm())


# (batch, rows): the native product (2 x 1), blocks against the transposed input padded
# to 16 columns (1 x 13, 2 x 9) and not padded (2 x 40), the whole weight at once (2 x
# 100); widths that leave a short last block
@pytest.mark.parametrize("shape", [(2, 1), (1, 13), (2, 9), (2, 40), (2, 100)])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("bias", [True, False])
def test_a_widened_product_is_a_half_precision_product(
    shape: tuple[int, int], dtype: torch.dtype, bias: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cpu_half, "_BLOCK_ELEMENTS", 40 * 96)  # 40 rows of weight a block
    batch, rows = shape
    x, w, b = _operands(rows, 96, 250, dtype, batch)
    b = b if bias else None
    ours = cpu_half.linear(x, w, b)
    assert ours.dtype == dtype and ours.shape == (batch, rows, 250) and ours.is_contiguous()
    # the float32 product of the same half-precision numbers, rounded once at the end
    wide = F.linear(x.float(), w.float(), None if b is None else b.float()).to(dtype)
    torch.testing.assert_close(ours, wide, rtol=2**-7, atol=1e-3)  # at most the last bit
    assert (ours == wide).float().mean() > 0.97
    # as close to the exact product as a product that rounds only its result can be
    exact = F.linear(x.double(), w.double(), None if b is None else b.double())
    assert _relative(ours, exact) <= 1.05 * _relative(wide, exact)
    assert _relative(ours, exact) < 2**-8


def test_the_scratch_buffer_serves_inside_and_outside_inference_mode() -> None:
    x, w, b = _operands(200, 64, 96, torch.bfloat16)
    wide = F.linear(x.float(), w.float(), b.float()).bfloat16()
    cpu_half._scratch.buffers = None
    with torch.inference_mode():
        inside = cpu_half.linear(x, w, b)
    with torch.no_grad():
        outside = cpu_half.linear(x, w, b)
    torch.testing.assert_close(inside, wide, rtol=2**-7, atol=1e-3)
    assert torch.equal(inside, outside)


def test_a_large_weight_with_many_rows_goes_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpu_half, "_WHOLE_ELEMENTS", 1000)
    monkeypatch.setattr(cpu_half, "_BLOCK_ELEMENTS", 64 * 50)
    x, w, b = _operands(300, 50, 130, torch.bfloat16)
    wide = F.linear(x.float(), w.float(), b.float()).bfloat16()
    torch.testing.assert_close(cpu_half.linear(x, w, b), wide, rtol=2**-7, atol=1e-3)


def test_a_widened_convolution_is_a_half_precision_convolution() -> None:
    torch.manual_seed(3)
    conv = torch.nn.Conv1d(16, 24, kernel_size=3, stride=2, padding=1).bfloat16()
    x = torch.randn(2, 16, 101).bfloat16()
    with torch.inference_mode():
        native = conv(x)
        assert cpu_half.widen_products(conv, force=True) == 1
        ours = conv(x)
        wide = F.conv1d(x.float(), conv.weight.float(), conv.bias.float(), 2, 1).bfloat16()
    assert ours.dtype == torch.bfloat16 and ours.shape == native.shape
    torch.testing.assert_close(ours, wide, rtol=2**-7, atol=1e-3)
    torch.testing.assert_close(ours.float(), native.float(), rtol=2e-2, atol=2e-2)


def test_which_modules_are_widened(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import GlmAsrForConditionalGeneration

    def products(model: torch.nn.Module) -> int:
        return sum(isinstance(m, torch.nn.Linear | torch.nn.Conv1d) for m in model.modules())

    half = GlmAsrForConditionalGeneration.from_pretrained(tiny_model_dir, dtype=torch.bfloat16)
    monkeypatch.setattr(ml, "cpu_supports_bf16", lambda: True)
    assert cpu_half.widen_products(half) == 0  # the CPU has the instructions
    asked: list[bool] = []
    monkeypatch.setattr(ml, "cpu_supports_bf16", lambda: asked.append(False) or False)
    count = products(half)
    assert count >= 10  # both convolutions, every projection and the output layer
    assert cpu_half.widen_products(half) == count
    assert len(asked) == 1  # the CPU is asked once, not once a module
    assert cpu_half.widen_products(half) == 0  # once only
    # the attention layers holding them compute their decoding steps' products in float32
    attentions = [m for m in half.modules() if hasattr(m, "q_proj")]
    assert attentions and all(cpu_half.widened(m) for m in attentions)
    full = GlmAsrForConditionalGeneration.from_pretrained(tiny_model_dir, dtype=torch.float32)
    assert cpu_half.widen_products(full, force=True) == 0  # float32 has nothing to widen
    assert not any(cpu_half.widened(m) for m in full.modules() if hasattr(m, "q_proj"))


def _engines(model: Path) -> tuple[Engine, Engine]:
    """A bf16 CPU engine whose products are widened, and one with the native products."""
    engines = tuple(
        Engine(EngineOptions(model=str(model), device="cpu", dtype="bf16", widen_half=widen))
        for widen in (True, False)
    )
    for engine in engines:
        engine.load()
    return engines  # type: ignore[return-value]


def test_the_listener_hears_the_same_words_widened(tmp_path: Path) -> None:
    track, clips = sentence_clips(tmp_path, HELD_OUT_SEED + 61)
    widened, native = _engines(LISTENER)
    assert all(hasattr(m, "_murmur_widened") for m in widened.model.modules() if _product(m))
    assert not any(hasattr(m, "_murmur_widened") for m in native.model.modules())
    with pytest.raises(ModelError):
        widened.with_options(widen_half=False)
    a, b = decoded_by_each((widened, native), clips)
    assert [d.ids for d in a] == [d.ids for d in b]
    assert wer(track.sentences, [d.text for d in a]) <= WER_BAR


def _product(module: torch.nn.Module) -> bool:
    return isinstance(module, torch.nn.Linear | torch.nn.Conv1d)


def test_auto_is_bf16_for_a_large_checkpoint_on_any_cpu(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    size = ml.checkpoint_bytes(tiny_model_dir)
    assert size > 0
    assert ml.checkpoint_bytes(tmp_path) == 0
    assert ml.checkpoint_bytes(tmp_path / "missing") == 0
    monkeypatch.setattr(ml, "cpu_supports_bf16", lambda: False)
    # a small checkpoint (the tiny model) keeps float32 on a CPU without bf16 instructions
    small = Engine(EngineOptions(model=str(tiny_model_dir), device="cpu"))
    assert small.load().dtype == "fp32"
    small.unload()
    # a large one (GLM-ASR-Nano: 4.5 GB) runs in bf16, its products widened
    monkeypatch.setattr(ml, "HALF_ON_ANY_CPU_BYTES", size)
    large = Engine(EngineOptions(model=str(tiny_model_dir), device="cpu"))
    try:
        assert large.load().dtype == "bf16"
        assert next(large.model.parameters()).dtype == torch.bfloat16
        widened = [m for m in large.model.modules() if _product(m)]
        assert widened and all(hasattr(m, "_murmur_widened") for m in widened)
        assert len(large.decode_batch([torch.zeros(16000).numpy()])) == 1
    finally:
        large.unload()


def test_a_wide_decoding_step_is_the_float32_step_rounded() -> None:
    from app.core.asr import cpu_attention

    gen = torch.Generator().manual_seed(11)
    query = torch.randn(3, 8, 1, 32, generator=gen).bfloat16()
    key = torch.randn(3, 2, 40, 32, generator=gen).bfloat16()
    value = torch.randn(3, 2, 40, 32, generator=gen).bfloat16()
    mask = torch.ones(3, 1, 1, 40, dtype=torch.bool)
    mask[0, ..., :7] = False  # a left-padded row
    wide, _ = cpu_attention._decoding_step(query, key, value, mask, None, wide=True)
    plain, _ = cpu_attention._decoding_step(query, key, value, mask, None)
    exact, _ = cpu_attention._decoding_step(query.float(), key.float(), value.float(), mask, None)
    assert wide.dtype == torch.bfloat16 and wide.shape == (3, 1, 8, 32)
    assert torch.equal(wide, exact.bfloat16())
    torch.testing.assert_close(plain.float(), exact, rtol=2e-2, atol=2e-2)
