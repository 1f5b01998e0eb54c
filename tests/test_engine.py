"""The GLM-ASR engine on tiny random checkpoints built offline (tests/tiny_model.py)."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.core.asr import engine as engine_module
from app.core.asr.engine import Engine, EngineOptions, build_prompt, max_new_tokens_for
from app.core.asr.repetition import find_text_loop, is_looping
from app.core.errors import Cancelled, MediaError, ModelError

SR = 16000


def noise(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal(int(SR * seconds))).astype(np.float32)


def tone(seconds: float, freq: float) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


CHUNKS = [noise(1.5, 1), tone(4.0, 220.0), noise(7.5, 2), tone(2.5, 880.0), noise(11.0, 3)]


def load(model_dir: Path, **options: Any) -> Engine:
    opts = {"model": str(model_dir), "device": "cpu", "dtype": "fp32", **options}
    engine = Engine(EngineOptions(**opts))
    engine.load()
    return engine


@pytest.fixture(scope="module")
def looping_engine(tiny_looping_model_dir: Path) -> Engine:
    return load(tiny_looping_model_dir, batch_size=4)


def audio_token_count(engine: Engine, row: Any) -> int:
    return int((row == engine.model.config.audio_token_id).sum())


def test_load_from_local_folder(tiny_engine: Engine, tiny_model_dir: Path) -> None:
    assert tiny_engine.loaded
    info = tiny_engine.device_info
    assert info is not None and (info.device, info.dtype) == ("cpu", "fp32")
    assert info.fallback_reason is None and info.name
    assert type(tiny_engine.model).__name__ == "GlmAsrForConditionalGeneration"
    assert type(tiny_engine.processor).__name__ == "GlmAsrProcessor"
    assert not tiny_engine.model.training
    assert tiny_engine.model_path == tiny_model_dir.resolve()
    assert tiny_engine.processor.feature_extractor.feature_size == 128
    assert tiny_engine.processor.feature_extractor.chunk_length == 30
    # load() again is a no-op that returns the same device
    assert tiny_engine.load() is info


def test_batched_equals_one_at_a_time(tiny_engine: Engine) -> None:
    batched = tiny_engine.transcribe_batch(CHUNKS)
    single = [tiny_engine.transcribe_batch([chunk])[0] for chunk in CHUNKS]
    assert batched == single
    assert all(batched), "the tiny model says something for every chunk"
    assert len(set(batched)) == len(CHUNKS), "different audio gives different text"


def test_transcribe_yields_every_index_grouped_by_length(
    tiny_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = tiny_engine.with_options(batch_size=2)
    batches: list[list[int]] = []
    original = engine.decode_batch

    def spy(audios: Any, *args: Any, anti_repetition: bool = False, **kwargs: Any) -> Any:
        if not anti_repetition:
            batches.append([len(a) for a in audios])
        return original(audios, *args, anti_repetition=anti_repetition, **kwargs)

    monkeypatch.setattr(engine, "decode_batch", spy)
    results = list(engine.transcribe(CHUNKS))
    assert sorted(index for index, _, _ in results) == list(range(len(CHUNKS)))
    assert [len(b) for b in batches] == [2, 2, 1]
    assert [n for b in batches for n in b] == sorted((len(c) for c in CHUNKS), reverse=True)
    expected = dict(enumerate(tiny_engine.transcribe_batch(CHUNKS)))
    for index, text, retried in results:
        if not retried:
            assert text == expected[index]


def test_left_padding_never_uses_the_audio_placeholder(tiny_engine: Engine) -> None:
    inputs = tiny_engine.build_inputs([noise(1.0, 5), noise(6.0, 6)])
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    tokenizer = tiny_engine.processor.tokenizer
    audio_id = tiny_engine.model.config.audio_token_id
    assert tokenizer.pad_token == "<|endoftext|>" and tokenizer.pad_token_id != audio_id
    assert mask[0, 0] == 0 and mask[1].all(), "the shorter prompt is padded on the left"
    assert (ids[0][mask[0] == 0] == tokenizer.pad_token_id).all()
    # 100 frames per second, halved by the encoder, merged by 4: 1 s -> 12, 6 s -> 75
    assert [audio_token_count(tiny_engine, row) for row in ids] == [12, 75]


def test_pad_token_that_is_the_placeholder_is_replaced(
    tiny_pad_placeholder_model_dir: Path,
) -> None:
    saved = json.loads((tiny_pad_placeholder_model_dir / "tokenizer_config.json").read_text())
    assert saved["pad_token"] == "<|pad|>", "the checkpoint really pads with the placeholder"
    engine = load(tiny_pad_placeholder_model_dir)
    tokenizer = engine.processor.tokenizer
    assert tokenizer.pad_token == "<|endoftext|>"
    assert tokenizer.pad_token_id != engine.model.config.audio_token_id
    chunks = CHUNKS[:3]
    assert engine.transcribe_batch(chunks) == [engine.transcribe_batch([c])[0] for c in chunks]


def test_missing_pad_token_is_set(tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "nopad"
    shutil.copytree(tiny_model_dir, folder)
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config.pop("pad_token", None)
    config_path.write_text(json.dumps(config))
    engine = load(folder)
    assert engine.processor.tokenizer.pad_token == "<|endoftext|>"
    chunks = [noise(1.0, 7), noise(3.0, 8)]
    assert engine.transcribe_batch(chunks) == [engine.transcribe_batch([c])[0] for c in chunks]


def test_context_is_in_the_prompt(tiny_model_dir: Path) -> None:
    engine = load(tiny_model_dir, context="Zoë Novák, Kubernetes\n<|pad|> GLM")
    inputs = engine.build_inputs([noise(2.0, 9)])
    row = inputs["input_ids"][0]
    audio_id = engine.model.config.audio_token_id
    prompt = engine.processor.tokenizer.decode(row[row != audio_id])
    assert "Please transcribe this audio into text" in prompt
    assert "Zoë Novák, Kubernetes GLM" in prompt
    assert audio_token_count(engine, row) == 25, "context can't add audio placeholders"
    assert build_prompt("") == "Please transcribe this audio into text"
    assert engine.transcribe_batch([noise(2.0, 9)])[0]


def test_max_new_tokens_from_duration(
    looping_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert max_new_tokens_for(0.0) == 16
    assert max_new_tokens_for(2.0) == 32
    assert max_new_tokens_for(2.01) == 33
    assert max_new_tokens_for(30.0, 4.0) == 136
    seen: list[int] = []
    generate = looping_engine.model.generate

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["generation_config"].max_new_tokens)
        return generate(*args, **kwargs)

    monkeypatch.setattr(looping_engine.model, "generate", spy)
    decoded = looping_engine.decode_batch([noise(1.0, 10), noise(3.0, 11)])
    assert seen == [16 + 24], "the batch gets the budget of its longest chunk"
    # the looping model never ends, so each chunk stops at its own budget
    assert [len(d.ids) for d in decoded] == [24, 40]
    assert all(d.hit_limit for d in decoded)


def test_cancel_within_one_decoding_step(looping_engine: Engine) -> None:
    steps: list[int] = []
    looping_engine.decode_batch([noise(2.0, 12)], on_step=steps.append)
    assert steps[-1] >= 20, "uncancelled, the model decodes many steps"

    cancel = threading.Event()
    steps.clear()

    def on_step(step: int) -> None:
        steps.append(step)
        if step == 3:
            cancel.set()

    with pytest.raises(Cancelled):
        looping_engine.decode_batch([noise(2.0, 12), noise(2.5, 13)], cancel, on_step=on_step)
    assert steps[-1] in (3, 4)


def test_cancel_before_and_between_batches(looping_engine: Engine) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        next(looping_engine.transcribe([noise(1.0, 14)], cancel))

    engine = looping_engine.with_options(batch_size=1)
    cancel = threading.Event()
    results = engine.transcribe([noise(1.0, 15), noise(1.0, 16)], cancel)
    next(results)
    cancel.set()
    with pytest.raises(Cancelled):
        next(results)


def test_repetition_guard_retries_a_looping_chunk(looping_engine: Engine) -> None:
    chunks = [noise(2.0, 17), noise(4.0, 18)]
    raw = looping_engine.decode_batch(chunks)
    assert all(is_looping(d.ids, d.hit_limit) for d in raw), "the tiny model loops"
    assert find_text_loop(raw[0].text) is not None

    results = dict((i, (t, r)) for i, t, r in looping_engine.transcribe(chunks))
    for i, d in enumerate(raw):
        text, retried = results[i]
        assert retried
        assert text != d.text
        assert find_text_loop(text) is None

    plain = looping_engine.with_options(repetition_guard=False)
    unguarded = dict((i, (t, r)) for i, t, r in plain.transcribe(chunks))
    assert unguarded == {i: (d.text, False) for i, d in enumerate(raw)}


def test_loop_is_trimmed_when_the_retry_loops_too(
    looping_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Anti-repetition settings that change nothing: the retry loops again and is trimmed.
    monkeypatch.setitem(engine_module.ANTI_REPETITION, "repetition_penalty", 1.0)
    monkeypatch.setitem(engine_module.ANTI_REPETITION, "no_repeat_ngram_size", 0)
    chunk = noise(2.0, 17)
    raw = looping_engine.decode_batch([chunk])[0]
    assert find_text_loop(raw.text) is not None
    [(index, text, retried)] = list(looping_engine.transcribe([chunk]))
    assert index == 0 and retried
    assert raw.text.startswith(text) and len(text) < len(raw.text)
    assert find_text_loop(text) is None


def test_empty_and_bad_audio(tiny_engine: Engine) -> None:
    assert tiny_engine.transcribe_batch([np.zeros(0, dtype=np.float32)]) == [""]
    short = tiny_engine.transcribe_batch([noise(0.05, 19)])
    assert len(short) == 1
    with pytest.raises(MediaError, match="mono"):
        tiny_engine.transcribe_batch([np.zeros((2, 16000), dtype=np.float32)])


def test_transcribe_before_load_is_a_clear_error(tiny_model_dir: Path) -> None:
    engine = Engine(EngineOptions(model=str(tiny_model_dir)))
    assert not engine.loaded and engine.device_info is None
    with pytest.raises(ModelError, match="not loaded"):
        list(engine.transcribe([noise(1.0, 20)]))


# ------------------------------------------------------------------ the loop detector


def test_loop_detector_on_english() -> None:
    from app.core.asr.repetition import trim_text_loop

    loop = "So I went to the market and I think that I think that I think that I think that"
    assert find_text_loop(loop) is not None
    assert trim_text_loop(loop) == "So I went to the market and I think that"
    word = "and then " + "the " * 14
    assert trim_text_loop(word).split() == ["and", "then", "the"]
    fine = "No, no, no. We will not go back there, not now and not ever, I promise you that."
    assert find_text_loop(fine) is None
    assert find_text_loop("hahahahahahahahahahahahahahaha") is not None
    assert find_text_loop("Very very good.") is None


def test_loop_detector_on_chinese() -> None:
    from app.core.asr.repetition import trim_text_loop

    loop = "今天我们讨论一下这个问题" + "谢谢" * 10
    assert find_text_loop(loop) is not None
    assert trim_text_loop(loop) == "今天我们讨论一下这个问题谢"
    phrase = "我觉得" + "这个方案很好" * 4
    assert trim_text_loop(phrase) == "我觉得这个方案很好"
    assert find_text_loop("大家好，我是小明，今天天气很好，我们去公园散步吧。") is None
    assert find_text_loop("哈哈哈哈") is None


def test_loop_detector_on_token_ids() -> None:
    from app.core.asr.repetition import find_tail_loop, trim_loop

    ids = [5, 6, 7, 8] + [1, 2, 3] * 5 + [1]
    loop = find_tail_loop(ids)
    assert loop is not None and (loop.start, loop.unit) == (4, 3)
    assert list(trim_loop(ids)) == [5, 6, 7, 8, 1, 2, 3]
    assert not is_looping(list(range(40)))
    # no period, but few distinct tokens and the limit was hit
    low = [1, 2, 1, 1, 2, 2, 1, 2, 2, 2, 1, 1, 1, 2, 1, 2, 2, 1, 1, 2] * 2
    assert find_tail_loop(low) is None
    assert is_looping(low, hit_limit=True) and not is_looping(low, hit_limit=False)


@pytest.mark.parametrize("path", ["generate", "static"])
def test_gpu_out_of_memory_halves_the_batch_until_it_fits(
    tiny_engine: Engine, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """A fake "GPU" whose decoding runs out of memory above 2 rows: the batch of 5 is
    halved to 2, and 2 rows is remembered as the most that fit, so the other 3 go as
    2 + 1 without another OOM; every chunk still gets the text it gets without OOM, in
    order. One row that does not fit is a one-line error that says what to do. Both
    decoding paths: transformers' generate, and the static cache that CUDA uses (whose
    caches, sized for the batch that failed, are let go)."""
    import torch

    from app.core.asr import static_decode
    from app.core.events import DeviceInfo

    audios = [noise(1.0 + 0.3 * i, seed=40 + i) for i in range(5)]
    expected = [d.text for d in tiny_engine.decode_batch(audios)]
    gpu = tiny_engine.with_options(cuda_graphs=path == "static")
    gpu._device_info = DeviceInfo("cuda", "fp32", name="Fake GPU 4 GB")
    model = gpu.model
    rows_tried: list[int] = []
    fits = 2
    cleared: list[int] = []
    if path == "generate":
        real_generate = model.generate

        def generate(**kwargs: Any) -> Any:
            rows = int(kwargs["input_ids"].shape[0])
            rows_tried.append(rows)
            if rows > fits:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
            return real_generate(**kwargs)

        monkeypatch.setattr(model, "generate", generate)
    else:
        real_static = static_decode.StaticDecoder.generate
        real_clear = static_decode.StaticDecoder.clear

        def static(self: Any, inputs: Any, *args: Any, **kwargs: Any) -> Any:
            rows = int(inputs["input_ids"].shape[0])
            rows_tried.append(rows)
            if rows > fits:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
            return real_static(self, inputs, *args, **kwargs)

        def clear(self: Any) -> None:
            cleared.append(1)
            real_clear(self)

        monkeypatch.setattr(static_decode.StaticDecoder, "generate", static)
        monkeypatch.setattr(static_decode.StaticDecoder, "clear", clear)
    # the fake GPU is the CPU: the same texts (the static cache's, too: test_static_decode)
    assert [d.text for d in gpu.decode_batch(audios)] == expected
    assert rows_tried == [5, 2, 2, 1]
    assert len(cleared) == (1 if path == "static" else 0)

    fits = 0
    rows_tried.clear()
    with pytest.raises(ModelError) as info:
        gpu.decode_batch(audios[:2])
    assert rows_tried == [2, 1]
    assert str(info.value) == (
        "Out of GPU memory on Fake GPU 4 GB; close other GPU programs or use --device cpu."
    )


def test_the_halves_run_after_the_failed_batch_s_memory_is_released(
    tiny_engine: Engine,
) -> None:
    """The error of a batch that ran out of memory holds that batch's frames, and with
    them its tensors on the GPU, until it is handled: the halves must run after that, or
    they run out of memory on the same tensors. Here the failed batch's "activations" are
    an object its frame holds; each half checks that it is gone."""
    import gc
    import weakref

    import torch

    from app.core.events import DeviceInfo

    gpu = tiny_engine.with_options()
    gpu._device_info = DeviceInfo("cuda", "fp32", name="Fake GPU")
    held: list[weakref.ref[Any]] = []
    calls: list[tuple[int, bool]] = []

    class Activations:
        pass

    def run(items: list[int]) -> list[int]:
        gc.collect()
        calls.append((len(items), all(ref() is None for ref in held)))
        activations = Activations()  # what a failed generate leaves in its frames
        held.append(weakref.ref(activations))
        if len(items) > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1 GiB")
        return [i * 10 for i in items]

    assert gpu._split_on_oom(run, [1, 2, 3, 4, 5, 6, 7, 8]) == [10, 20, 30, 40, 50, 60, 70, 80]
    # 8 and 4 fail; every later call finds the failed batches' activations released
    assert calls[:2] == [(8, True), (4, True)]
    assert [size for size, _ in calls] == [8, 4, 2, 2, 2, 2]
    assert all(released for _, released in calls)


def test_a_core_lent_to_the_producer_comes_back_at_the_next_layer(
    tiny_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the pipeline's producer runs, the model's thread leaves it a core; when it
    ends, the model takes the core back inside the running batch (at its next layer), not
    only at the next batch, which on a CPU can be minutes away."""
    import torch

    import app.core.asr.engine as engine_module

    monkeypatch.setattr(engine_module, "default_threads", lambda: 4)
    before = torch.get_num_threads()
    engine = tiny_engine.with_options(batch_size=1)  # shares the model and its layer hooks
    seen: list[int] = []
    layers = [
        m for n, m in engine.model.named_modules() if n.rsplit(".", 2)[-2:-1] == ["layers"]
    ]  # the encoder's, then the decoder's (which run at every decoding step)
    last = layers[-1].register_forward_hook(lambda *_: seen.append(torch.get_num_threads()))
    first = layers[len(layers) // 2].register_forward_pre_hook(
        lambda *_: engine.release_spare() if len(seen) >= 3 else None
    )
    try:
        engine.hold_spare()
        engine.pin_threads(spare=1)
        assert torch.get_num_threads() == 3
        engine.transcribe_batch(CHUNKS[:1])
        assert seen[0] == 3 and seen[-1] == 4, seen
        # with nothing lent, pin_threads takes every core
        engine.pin_threads(spare=1)
        assert torch.get_num_threads() == 4
        # the next file lends the core again: the earlier release does not take it back
        first.remove()
        first = layers[0].register_forward_pre_hook(lambda *_: None)
        seen.clear()
        engine.hold_spare()
        engine.pin_threads(spare=1)
        engine.transcribe_batch(CHUNKS[:1])
        assert seen and set(seen) == {3}, seen
    finally:
        first.remove()
        last.remove()
        torch.set_num_threads(before)
