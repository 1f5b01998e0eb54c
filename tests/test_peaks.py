"""Waveform peaks: exact min/max at every level, per-column reads, and the disk cache."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.core.audio import peaks as peaks_mod
from app.core.audio.media import decode_audio as real_decode
from app.core.audio.peaks import Peaks, compute_peaks, load_peaks, media_peaks, save_peaks
from app.core.errors import Cancelled


def brute_force(samples: np.ndarray, bucket: int) -> tuple[np.ndarray, np.ndarray]:
    mins = [samples[i : i + bucket].min() for i in range(0, len(samples), bucket)]
    maxs = [samples[i : i + bucket].max() for i in range(0, len(samples), bucket)]
    return np.array(mins, np.float32), np.array(maxs, np.float32)


@pytest.mark.parametrize("n", [1, 255, 256, 257, 10_000, 123_457])
@pytest.mark.parametrize("factor", [2, 4])
def test_every_level_is_the_brute_force_min_max(n: int, factor: int) -> None:
    rng = np.random.default_rng(n + factor)
    samples = rng.uniform(-1, 1, n).astype(np.float32)
    # small blocks, so that block boundaries and the short last bucket are exercised
    peaks = compute_peaks(samples, base=64, factor=factor, top_buckets=4, block_buckets=7)
    assert peaks.n_samples == n
    assert len(peaks.levels) >= 1
    for level, data in enumerate(peaks.levels):
        mins, maxs = brute_force(samples, peaks.bucket_samples(level))
        np.testing.assert_array_equal(data[0], mins)
        np.testing.assert_array_equal(data[1], maxs)
    assert peaks.levels[-1].shape[1] <= 4 or len(peaks.levels) == 1
    assert peaks.peak == pytest.approx(float(np.abs(samples).max()))


def test_a_memory_map_is_read_block_by_block(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    data = rng.normal(0, 0.2, 300_000).astype(np.float32)
    path = tmp_path / "samples.f32"
    data.tofile(path)
    mapped = np.memmap(path, dtype=np.float32, mode="r")
    peaks = compute_peaks(mapped, base=256, block_buckets=100)
    mins, maxs = brute_force(data, 256)
    np.testing.assert_array_equal(peaks.levels[0][0], mins)
    np.testing.assert_array_equal(peaks.levels[0][1], maxs)


def test_cancel_stops_the_pass() -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        compute_peaks(np.zeros(100_000, np.float32), cancel=cancel)


def test_levels_are_picked_for_at_most_two_buckets_per_column() -> None:
    peaks = compute_peaks(np.zeros(16000 * 600, np.float32))  # 10 minutes
    for spp in (0.0005, 0.002, 0.016, 0.05, 0.3, 1.0, 600 / 800):
        level = peaks.level_for(spp)
        per_px = spp / peaks.bucket_seconds(level)
        assert per_px <= 2.0
        if level > 0:  # the finest level that does: one finer would be over 2
            assert spp / peaks.bucket_seconds(level - 1) > 2.0


def test_columns_cover_exactly_their_buckets() -> None:
    rng = np.random.default_rng(3)
    samples = rng.uniform(-1, 1, 16000 * 30).astype(np.float32)
    samples[16000 * 10 : 16000 * 10 + 40] = 1.0  # one loud click at 10 s
    peaks = compute_peaks(samples, top_buckets=16)
    for start, spp, width in ((0.0, 30 / 600, 600), (9.0, 0.004, 500), (-1.0, 0.1, 200)):
        mins, maxs = peaks.columns(start, spp, width)
        level = peaks.level_for(spp)
        bucket = peaks.bucket_seconds(level)  # the same arithmetic as columns()
        data = peaks.levels[level]
        for x in range(width):
            t0, t1 = start + x * spp, start + (x + 1) * spp
            if t1 <= 0 or t0 >= peaks.duration:
                assert np.isnan(mins[x]) and np.isnan(maxs[x])
                continue
            first = min(max(int(np.floor(t0 / bucket)), 0), data.shape[1] - 1)
            last = max(first + 1, min(int(np.floor(t1 / bucket)), data.shape[1]))
            if x == width - 1 or t1 >= peaks.duration:
                last = max(first + 1, min(int(np.ceil(t1 / bucket)), data.shape[1]))
            assert mins[x] == data[0, first:last].min(), (start, spp, x)
            assert maxs[x] == data[1, first:last].max(), (start, spp, x)
        # the click shows in the column that holds 10 s
        x = int((10.0 - start) / spp)
        if 0 <= x < width:
            assert maxs[x] == 1.0


def write_wav(path: Path, seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    samples = (rng.uniform(-0.5, 0.5, int(16000 * seconds))).astype(np.float32)
    sf.write(path, samples, 16000, subtype="FLOAT")
    return samples


def test_media_peaks_are_cached_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MURMUR_DATA_DIR", str(tmp_path / "data"))
    media = tmp_path / "talk.wav"
    samples = write_wav(media, 3.0)
    decodes: list[str] = []

    def counting_decode(path: object, *args: object, **kwargs: object) -> object:
        decodes.append(str(path))
        return real_decode(path, *args, **kwargs)

    monkeypatch.setattr("app.core.audio.media.decode_audio", counting_decode)
    first = media_peaks(media)
    assert not first.from_cache and decodes == [str(media)]
    mins, maxs = brute_force(samples, 256)
    np.testing.assert_array_equal(first.levels[0][0], mins)
    np.testing.assert_array_equal(first.levels[0][1], maxs)
    cache_files = list((tmp_path / "data" / "waveforms").glob("*.npz"))
    assert len(cache_files) == 1
    written = cache_files[0].stat().st_mtime_ns

    second = media_peaks(media)
    assert second.from_cache and decodes == [str(media)]  # not decoded again
    assert len(second.levels) == len(first.levels)
    for a, b in zip(first.levels, second.levels, strict=True):
        np.testing.assert_array_equal(a, b)
    assert second.n_samples == first.n_samples
    assert list((tmp_path / "data" / "waveforms").glob("*.npz")) == cache_files
    assert cache_files[0].stat().st_mtime_ns >= written

    # a changed file (new size and time) is a new key: decoded again
    write_wav(media, 2.0, seed=1)
    os.utime(media, ns=(written + 10**9, written + 10**9))
    third = media_peaks(media)
    assert not third.from_cache and len(decodes) == 2
    assert third.n_samples == 32000


def test_a_damaged_cache_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MURMUR_DATA_DIR", str(tmp_path / "data"))
    media = tmp_path / "talk.wav"
    write_wav(media, 1.0)
    target = peaks_mod.cache_path(media)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not a numpy file")
    peaks = media_peaks(media)
    assert not peaks.from_cache
    again = load_peaks(target)
    assert again is not None and again.n_samples == 16000


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    samples = np.random.default_rng(1).uniform(-1, 1, 5000).astype(np.float32)
    peaks = compute_peaks(samples, base=32, factor=4, top_buckets=2)
    loaded = load_peaks(save_peaks(peaks, tmp_path / "sub" / "w.npz"))
    assert isinstance(loaded, Peaks) and loaded.from_cache
    assert (loaded.base, loaded.factor, loaded.n_samples) == (32, 4, 5000)
    for a, b in zip(peaks.levels, loaded.levels, strict=True):
        np.testing.assert_array_equal(a, b)
    assert load_peaks(tmp_path / "missing.npz") is None


def test_the_cache_is_pruned_oldest_first(tmp_path: Path) -> None:
    folder = tmp_path / "waveforms"
    folder.mkdir()
    for i in range(5):
        f = folder / f"{i}.npz"
        f.write_bytes(b"x" * 1000)
        os.utime(f, (1000 + i, 1000 + i))
    peaks_mod._prune(folder, folder / "0.npz", limit=3000)  # the 3 newest fit
    assert sorted(p.name for p in folder.glob("*.npz")) == ["0.npz", "3.npz", "4.npz"]
