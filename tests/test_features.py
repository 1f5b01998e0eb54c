"""Log-mel features without the window's padding (app.core.asr.features): the same
numbers as the Whisper feature extractor's own, for any mix of chunk lengths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.core.asr import features
from app.core.asr.engine import Engine, EngineOptions
from tests.listener_speech import HELD_OUT_SEED, LISTENER, make_track, wer


@pytest.fixture(scope="module")
def extractor():  # type: ignore[no-untyped-def]
    from transformers import WhisperFeatureExtractor

    return WhisperFeatureExtractor(feature_size=128, chunk_length=30)


@pytest.mark.parametrize(
    "lengths",
    [
        [48_000, 112_000, 100, 0],  # mixed, one empty
        [480_000, 16_000],  # a full window beside a short one
        [0, 0],  # nothing at all
        [479_999, 5],  # the last sample of the window
        [1, 400, 401, 560],  # around the STFT's reach
    ],
)
def test_the_same_features_as_the_extractor(extractor, lengths: list[int]) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(sum(lengths))
    batch = np.zeros((len(lengths), extractor.n_samples), np.float32)
    for row, n in enumerate(lengths):
        batch[row, :n] = rng.standard_normal(n).astype(np.float32) * 0.1
    expected = extractor._torch_extract_fbank_features(batch, "cpu")
    got = features.log_mel(extractor, batch)
    assert got.shape == expected.shape == (len(lengths), 128, 3000)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


def test_a_chunk_with_zeros_inside_keeps_them() -> None:
    """Zeros inside the audio (digital silence between words) are audio, not padding."""
    from transformers import WhisperFeatureExtractor

    extractor = WhisperFeatureExtractor(feature_size=128, chunk_length=10)
    batch = np.zeros((1, extractor.n_samples), np.float32)
    batch[0, 1000:9000] = 0.2
    batch[0, 50_000:52_000] = -0.3
    np.testing.assert_allclose(
        features.log_mel(extractor, batch),
        extractor._torch_extract_fbank_features(batch, "cpu"),
        rtol=0,
        atol=1e-6,
    )


def test_install_applies_only_where_the_numbers_stay_the_same() -> None:
    from transformers import WhisperFeatureExtractor

    plain = WhisperFeatureExtractor(feature_size=128)
    assert features.install(plain)
    one_row = np.zeros(plain.n_samples, np.float32)  # 1-D input: the extractor's own path
    assert plain._torch_extract_fbank_features(one_row, "cpu").shape == (128, 3000)
    assert not features.install(WhisperFeatureExtractor(feature_size=128, dither=1e-5))
    assert not features.install(WhisperFeatureExtractor(feature_size=128, padding_value=0.5))
    assert not features.install(object())


def test_the_engine_uses_it_and_the_listener_hears_the_same(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Loaded through the app's own path, the extractor is replaced, and the listener
    gives the same tokens with it as with the extractor's own method."""
    track = make_track(tmp_path, HELD_OUT_SEED + 5, [1.0] * 5, 2, 5)
    clips = [
        track.samples[round((a - 0.2) * 16000) : round((b + 0.2) * 16000)]
        for a, b in zip(track.onsets, track.ends, strict=True)
    ]
    engine = Engine(EngineOptions(model=str(LISTENER), device="cpu", dtype="fp32"))
    engine.load()
    extractor = engine.processor.feature_extractor
    assert "_torch_extract_fbank_features" in vars(extractor)  # ours, on the instance
    ours = [d.ids for d in engine.decode_batch(clips)]
    del extractor._torch_extract_fbank_features  # back to the class's method
    theirs = [d.ids for d in engine.decode_batch(clips)]
    assert ours == theirs
    assert wer(list(track.sentences), [d.text for d in engine.decode_batch(clips)]) < 0.2
    tiny = Engine(EngineOptions(model=str(tiny_model_dir), device="cpu"))
    tiny.load()
    assert "_torch_extract_fbank_features" in vars(tiny.processor.feature_extractor)
