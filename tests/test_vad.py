"""Speech detection: finds real (also quiet) speech, ignores silence, music and noise,
and the fast batched pass agrees with the plain sequential silero pass."""

from __future__ import annotations

import itertools
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from app.core.audio import vad
from app.core.audio.media import decode_audio
from app.core.audio.vad import (
    SpeechRegion,
    VadOptions,
    _loud_level,
    _plan,
    clean_regions,
    detect_speech,
    normalization_gains,
    regions_from_probabilities,
    speech_probabilities,
    window_levels_db,
)
from app.core.errors import Cancelled
from tests import speech
from tests.speech import SpeechTrack

WINDOW_S = 512 / 16000


def check_regions(regions: list[SpeechRegion], duration: float) -> None:
    for r in regions:
        assert 0.0 <= r.start < r.end <= duration
    for a, b in itertools.pairwise(regions):
        assert a.end <= b.start


def assert_sentences_found(regions: list[SpeechRegion], track: SpeechTrack) -> None:
    starts = np.array([r.start for r in regions])
    assert len(regions) == len(track.sentences)
    for onset, offset in zip(track.onsets, track.offsets, strict=True):
        assert np.min(np.abs(starts - onset)) < 0.3
        # The whole sentence lies inside one region.
        assert any(r.start <= onset + 0.1 and r.end >= offset - 0.15 for r in regions)


@pytest.fixture(scope="module")
def speech_samples(speech_track: SpeechTrack) -> np.ndarray:
    return decode_audio(speech_track.path).samples


def test_sentences_are_found_at_their_onsets(
    speech_track: SpeechTrack, speech_samples: np.ndarray
) -> None:
    regions = detect_speech(speech_samples)
    check_regions(regions, len(speech_samples) / 16000)
    assert_sentences_found(regions, speech_track)


def test_long_track_in_mp4(long_speech_track: SpeechTrack, tmp_path: Path) -> None:
    mp4 = speech.convert(long_speech_track.path, tmp_path / "long.mp4", "mp4")
    samples = decode_audio(mp4).samples
    regions = detect_speech(samples)
    check_regions(regions, len(samples) / 16000)
    assert_sentences_found(regions, long_speech_track)


def test_quiet_speech_gives_the_same_regions_as_loud(
    quiet_track: SpeechTrack, speech_samples: np.ndarray
) -> None:
    quiet = decode_audio(quiet_track.path).samples
    assert speech.peak_dbfs(quiet) < -30
    loud_regions = detect_speech(speech_samples)
    quiet_regions = detect_speech(quiet)
    assert len(quiet_regions) == len(loud_regions)
    for a, b in zip(loud_regions, quiet_regions, strict=True):
        assert abs(a.start - b.start) <= 2 * WINDOW_S
        assert abs(a.end - b.end) <= 2 * WINDOW_S


def test_very_quiet_speech_is_still_found(
    speech_track: SpeechTrack, speech_samples: np.ndarray
) -> None:
    very_quiet = speech_samples * np.float32(10 ** (-45 / 20) / np.abs(speech_samples).max())
    assert_sentences_found(detect_speech(very_quiet), speech_track)


def test_normalisation_rescues_speech_silero_misses(
    speech_track: SpeechTrack, speech_samples: np.ndarray
) -> None:
    """At -60 dBFS peak plain silero loses sentences; normalised detection finds them."""
    faint = speech_samples * np.float32(10 ** (-60 / 20) / np.abs(speech_samples).max())
    plain = detect_speech(faint, options=VadOptions(normalize=False))
    assert len(plain) < len(speech_track.sentences)
    assert_sentences_found(detect_speech(faint), speech_track)


def test_normalisation_does_not_change_the_samples(speech_samples: np.ndarray) -> None:
    quiet = (speech_samples * np.float32(0.01)).copy()
    before = quiet.copy()
    detect_speech(quiet)
    np.testing.assert_array_equal(quiet, before)


def test_low_noise_is_not_turned_into_speech() -> None:
    rng = np.random.default_rng(1)
    for level_db in (-70.0, -50.0, -30.0):
        noise = (rng.standard_normal(10 * 16000) * 10 ** (level_db / 20)).astype(np.float32)
        assert np.allclose(normalization_gains(noise), 1.0)
        assert detect_speech(noise) == []


def test_silence_gives_no_regions(silence_wav: Path) -> None:
    assert detect_speech(decode_audio(silence_wav).samples) == []
    assert detect_speech(np.zeros(0, dtype=np.float32)) == []


def test_music_and_tones_give_few_regions(music_wav: Path) -> None:
    music = decode_audio(music_wav).samples
    tone = speech.tone(10.0, 440.0, amplitude=0.3)
    for audio in (music, tone):
        regions = detect_speech(audio)
        assert sum(r.end - r.start for r in regions) < 0.1 * len(audio) / 16000


def test_speech_between_music_is_found(
    speech_track: SpeechTrack, speech_samples: np.ndarray, music_wav: Path
) -> None:
    music = decode_audio(music_wav).samples
    audio = np.concatenate([music, speech_samples, music])
    regions = detect_speech(audio)
    music_s = len(music) / 16000
    shifted = SpeechTrack(
        path=speech_track.path,
        sentences=speech_track.sentences,
        onsets=tuple(t + music_s for t in speech_track.onsets),
        offsets=tuple(t + music_s for t in speech_track.offsets),
        duration=len(audio) / 16000,
    )
    inside = [r for r in regions if music_s - 0.5 < r.start < music_s + len(speech_samples) / 16000]
    assert_sentences_found(inside, shifted)
    outside = sum(r.end - r.start for r in regions if r not in inside)
    assert outside < 2.0


def _repeat(samples: np.ndarray, times: int) -> np.ndarray:
    return np.concatenate([samples] * times)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_batched_stretches_match_the_plain_sequential_silero_pass(
    long_speech_track: SpeechTrack,
) -> None:
    import torch
    from silero_vad import get_speech_timestamps, load_silero_vad

    threads = torch.get_num_threads()
    samples = _repeat(decode_audio(long_speech_track.path).samples, 2)  # ~80 s
    options = VadOptions(normalize=False, min_stretch_s=4.0, warmup_s=1.0)
    batched = detect_speech(samples, options=options)
    model = load_silero_vad()
    torch.set_num_threads(1)
    try:
        stamps = get_speech_timestamps(
            torch.from_numpy(samples),
            model,
            threshold=options.threshold,
            min_speech_duration_ms=round(options.min_speech_s * 1000),
            min_silence_duration_ms=round(options.min_silence_s * 1000),
            speech_pad_ms=round(options.speech_pad_s * 1000),
        )
    finally:
        torch.set_num_threads(threads)
    plain = [SpeechRegion(s["start"] / 16000, s["end"] / 16000) for s in stamps]
    assert len(plain) >= 12
    assert len(batched) == len(plain)
    for a, b in zip(batched, plain, strict=True):
        assert abs(a.start - b.start) <= 2 * WINDOW_S + 1e-6
        assert abs(a.end - b.end) <= 2 * WINDOW_S + 1e-6


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_sequential_option_is_exactly_silero(long_speech_track: SpeechTrack) -> None:
    """max_stretches=1 is one row, no warm-up: the numbers silero gives, window by window
    (to float32 rounding: the spectrum is an FFT here, a matrix product in silero)."""
    import torch
    from silero_vad import load_silero_vad

    samples = decode_audio(long_speech_track.path).samples[: 8 * 16000]
    probs = speech_probabilities(samples, options=VadOptions(normalize=False, max_stretches=1))
    model = load_silero_vad()
    with torch.inference_mode():
        expected = [
            float(model(torch.from_numpy(samples[i : i + 512]), 16000))
            for i in range(0, len(samples) - 511, 512)
        ]
    np.testing.assert_allclose(probs[: len(expected)], expected, atol=5e-5)


def test_workers_split_rows_without_changing_results(long_speech_track: SpeechTrack) -> None:
    samples = decode_audio(long_speech_track.path).samples
    options = VadOptions(min_stretch_s=3.0, max_stretches=8)
    one = speech_probabilities(samples, options=replace(options, workers=1))
    three = speech_probabilities(samples, options=replace(options, workers=3))
    np.testing.assert_allclose(one, three, atol=1e-4)


def test_long_audio_runs_many_stretches_side_by_side() -> None:
    hour = 3600 * 16000 // 512
    plan = _plan(hour, 16000, VadOptions())
    assert 50 <= plan.rows <= 512
    assert plan.rows * plan.length >= hour
    assert plan.warmup < plan.length / 10
    assert _plan(hour, 16000, VadOptions(max_stretches=1)).rows == 1
    short = _plan(100, 16000, VadOptions())  # 3.2 s: too short to split
    assert short.rows == 1 and short.length == 100


def test_torch_thread_setting_is_left_alone(speech_samples: np.ndarray) -> None:
    import torch

    before = torch.get_num_threads()
    detect_speech(speech_samples)
    assert torch.get_num_threads() == before


def test_progress_and_cancel(speech_samples: np.ndarray) -> None:
    seen: list[float] = []
    detect_speech(speech_samples, progress=seen.append)
    assert seen and seen[-1] == pytest.approx(1.0)
    assert all(a <= b for a, b in itertools.pairwise(seen))
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        detect_speech(speech_samples, cancel=cancel)


@pytest.mark.parametrize("workers", [1, 2])
def test_cancel_during_detection_stops_mid_way(workers: int) -> None:
    """Cancel set at the first progress report stops every stretch at its next check:
    the detection ends having reported only a small part of the work."""
    noise = np.random.default_rng(3).standard_normal(600 * 16000).astype(np.float32) * 0.01
    cancel = threading.Event()
    seen: list[float] = []

    def progress(fraction: float) -> None:
        seen.append(fraction)
        cancel.set()

    options = VadOptions(workers=workers, max_stretches=8)
    with pytest.raises(Cancelled):
        detect_speech(noise, options=options, cancel=cancel, progress=progress)
    assert seen and max(seen) < 0.2, seen[-5:]


def test_wrong_rate_is_refused(speech_samples: np.ndarray) -> None:
    with pytest.raises(ValueError, match="16000"):
        detect_speech(speech_samples, sample_rate=8000)


def test_clean_regions_sorts_clips_and_splits_overlaps() -> None:
    raw = [SpeechRegion(5.0, 7.0), SpeechRegion(-1.0, 1.0), SpeechRegion(6.0, 12.0)]
    cleaned = clean_regions(raw, duration=10.0)
    assert cleaned == [SpeechRegion(0.0, 1.0), SpeechRegion(5.0, 6.5), SpeechRegion(6.5, 10.0)]


# ----------------------------------------------------------------- level analysis, exact values


def _windows(*levels_db: float) -> np.ndarray:
    """One constant 512-sample window per level: its RMS is exactly that level."""
    return np.concatenate([np.full(512, 10 ** (db / 20), dtype=np.float32) for db in levels_db])


def test_window_levels_are_the_rms_of_each_window_in_dbfs() -> None:
    samples = np.concatenate([_windows(-20.0, -40.0), np.full(100, 0.5, dtype=np.float32)])
    levels = window_levels_db(samples)
    # The last window holds 100 samples at 0.5 and is zero-padded to 512:
    # mean square 100 * 0.25 / 512 = 0.048828 -> -13.113 dBFS.
    np.testing.assert_allclose(levels, [-20.0, -40.0, -13.1133], atol=1e-3)
    assert levels.dtype == np.float64


def test_window_levels_of_silence_and_of_nothing() -> None:
    np.testing.assert_allclose(window_levels_db(np.zeros(1024, np.float32)), [-200.0, -200.0])
    assert window_levels_db(np.zeros(0, np.float32)).shape == (0,)
    # A partial window alone is one window.
    np.testing.assert_allclose(
        window_levels_db(np.full(10, 1.0, np.float32)), [-17.0927], atol=1e-3
    )


def test_loud_level_is_the_90th_percentile_of_windows_10_db_over_the_floor() -> None:
    quiet = [-60.0] * 90
    assert _loud_level(np.array(quiet + list(range(-30, -20))), 10) == pytest.approx(-21.9)
    # Exactly 10 dB over the floor counts as loud.
    assert _loud_level(np.array(quiet + [-50.0] * 10), 10) == pytest.approx(-50.0)
    assert _loud_level(np.array(quiet + [-50.5] * 10), 10) is None
    # Too few loud windows: exactly min_loud is enough, one fewer is not.
    assert _loud_level(np.array(quiet + [-20.0] * 5), 5) == pytest.approx(-20.0)
    assert _loud_level(np.array(quiet + [-20.0] * 5), 6) is None
    # Digital silence is not the floor: windows at -100 dB or below are ignored.
    assert _loud_level(np.array([-200.0] * 90 + [-100.0] * 30 + [-30.0] * 5), 10) is None
    assert _loud_level(np.array([-200.0] * 900 + [-60.0] * 90 + [-20.0] * 10), 10) == -20.0


def test_normalization_brings_loud_parts_to_the_target() -> None:
    # 32 windows at -60 dB then 32 at -40 dB: the loud parts are at -40, the
    # target is -20, so every window gets +20 dB (x10).
    gains = normalization_gains(_windows(*([-60.0] * 32 + [-40.0] * 32)))
    assert gains.dtype == np.float32 and gains.shape == (64,)
    np.testing.assert_allclose(gains, 10.0, rtol=1e-5)
    # The gain is capped at +40 dB (loud parts at -70 would need +50).
    np.testing.assert_allclose(
        normalization_gains(_windows(*([-90.0] * 32 + [-70.0] * 32))), 100.0, rtol=1e-5
    )
    # Loud audio is cut, at most by 20 dB.
    np.testing.assert_allclose(
        normalization_gains(_windows(*([-46.0] * 32 + [-6.0] * 32))), 10 ** (-14 / 20), rtol=1e-5
    )
    np.testing.assert_allclose(
        normalization_gains(_windows(*([-40.0] * 32 + [0.0] * 32))), 0.1, rtol=1e-5
    )
    options = VadOptions(target_dbfs=-30.0, max_gain_db=6.0, max_cut_db=3.0)
    np.testing.assert_allclose(
        normalization_gains(_windows(*([-60.0] * 32 + [-40.0] * 32)), options=options),
        10 ** (6 / 20),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        normalization_gains(_windows(*([-40.0] * 32 + [-20.0] * 32)), options=options),
        10 ** (-3 / 20),
        rtol=1e-5,
    )


def test_each_30_s_block_gets_its_own_gain_and_a_block_without_speech_the_files() -> None:
    block = 938  # windows in 30 s (30 * 16000 / 512 = 937.5, rounded)
    first = [-60.0] * (block // 2) + [-30.0] * (block - block // 2)  # loud at -30: +10 dB
    second = [-60.0] * (block // 2) + [-40.0] * (block - block // 2)  # loud at -40: +20 dB
    third = [-60.0] * 100  # nothing loud: the whole file's gain (+10 dB, its loudest parts)
    gains = normalization_gains(_windows(*(first + second + third)))
    assert gains.shape == (2 * block + 100,)
    np.testing.assert_allclose(gains[:block], 10 ** (10 / 20), rtol=1e-5)
    np.testing.assert_allclose(gains[block : 2 * block], 10.0, rtol=1e-5)
    np.testing.assert_allclose(gains[2 * block :], 10 ** (10 / 20), rtol=1e-5)
    # A block needs 1 s of loud audio (31 windows) for its own gain.
    short = [-60.0] * 100 + [-40.0] * 30
    gains = normalization_gains(_windows(*(first + short)))
    np.testing.assert_allclose(gains[block:], 10 ** (10 / 20), rtol=1e-5)
    gains = normalization_gains(_windows(*(first + short + [-40.0])))
    np.testing.assert_allclose(gains[block:], 10.0, rtol=1e-5)


def test_loading_silero_keeps_the_callers_thread_count_and_hides_its_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys
    import warnings

    import torch

    from app.core.audio import vad

    # Import silero afresh: its import sets torch's thread count to 1 for the process.
    for name in [m for m in sys.modules if m == "silero_vad" or m.startswith("silero_vad.")]:
        monkeypatch.delitem(sys.modules, name)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model = vad._load_model()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    probability = model(torch.zeros(1, 512), 16000)
    assert probability.shape == (1, 1)


# ------------------------------------------------ from probabilities to regions, exact values


def _probabilities(*speech: tuple[int, int], level: float = 0.9) -> np.ndarray:
    """313 windows (10 s) at 0.1, with ``level`` in the given [first, last) windows."""
    probs = np.full(313, 0.1, dtype=np.float32)
    for first, last in speech:
        probs[first:last] = level
    return probs


def test_regions_start_and_end_at_their_windows_padded_by_a_tenth_of_a_second() -> None:
    # Windows 50-99 are 1.6-3.2 s; 0.1 s of padding each side.
    assert regions_from_probabilities(_probabilities((50, 100)), 160_000) == [
        SpeechRegion(1.5, 3.3)
    ]
    # Speech that runs to the end of the audio ends at the audio's end (10 s).
    assert regions_from_probabilities(_probabilities((50, 100), (200, 313)), 160_000) == [
        SpeechRegion(1.5, 3.3),
        SpeechRegion(6.3, 10.0),
    ]


def test_regions_follow_the_threshold_and_the_minimum_durations() -> None:
    faint = _probabilities((50, 100), level=0.45)
    assert regions_from_probabilities(faint, 160_000) == []
    assert regions_from_probabilities(faint, 160_000, options=VadOptions(threshold=0.4)) == [
        SpeechRegion(1.5, 3.3)
    ]
    # A blip of 3 windows (96 ms) is shorter than the 0.25 s minimum.
    assert regions_from_probabilities(_probabilities((50, 53)), 160_000) == []
    # A pause of 6 windows (0.19 s) is shorter than the 0.3 s minimum: one region.
    assert regions_from_probabilities(_probabilities((50, 60), (66, 80)), 160_000) == [
        SpeechRegion(1.5, 2.66)
    ]
    # A pause of 16 windows (0.51 s) separates two regions; the padding stays inside it.
    assert regions_from_probabilities(_probabilities((50, 60), (76, 90)), 160_000) == [
        SpeechRegion(1.5, 2.02),
        SpeechRegion(2.332, 2.98),
    ]
    no_pad = VadOptions(speech_pad_s=0.0, min_silence_s=0.1)
    assert regions_from_probabilities(
        _probabilities((50, 60), (66, 80)), 160_000, options=no_pad
    ) == [SpeechRegion(1.6, 1.92), SpeechRegion(2.112, 2.56)]


def test_clean_regions_drops_empty_and_contained_regions() -> None:
    # Empty regions (also after clipping) go; what follows them stays.
    assert clean_regions(
        [SpeechRegion(1.0, 1.0), SpeechRegion(11.0, 12.0), SpeechRegion(2.0, 3.0)], 10.0
    ) == [SpeechRegion(2.0, 3.0)]
    # A region inside the one before it (also one ending at the same time) goes.
    assert clean_regions(
        [
            SpeechRegion(0.0, 5.0),
            SpeechRegion(1.0, 2.0),
            SpeechRegion(2.0, 5.0),
            SpeechRegion(6, 7),
        ],
        10.0,
    ) == [SpeechRegion(0.0, 5.0), SpeechRegion(6.0, 7.0)]
    # The first two overlap: the overlap is split in its middle.
    assert clean_regions([SpeechRegion(0.0, 4.0), SpeechRegion(2.0, 6.0)], 10.0) == [
        SpeechRegion(0.0, 3.0),
        SpeechRegion(3.0, 6.0),
    ]


def test_options_reach_the_region_rules(speech_samples: np.ndarray) -> None:
    # A minimum speech length of 30 s leaves none of the test's sentences.
    assert detect_speech(speech_samples, options=VadOptions(min_speech_s=30.0)) == []
    # A shorter minimum keeps a 4-window (128 ms) blip the default (0.25 s) drops.
    blip = _probabilities((50, 54))
    assert regions_from_probabilities(blip, 160_000) == []
    assert regions_from_probabilities(blip, 160_000, options=VadOptions(min_speech_s=0.1)) == [
        SpeechRegion(1.5, 1.828)
    ]


def test_default_workers_without_cpu_affinity(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from app.core.audio import vad

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2}, raising=False)
    assert vad._default_workers() == 3
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(), raising=False)
    assert vad._default_workers() == 1
    # Windows and macOS have no sched_getaffinity: the CPU count, at most 8.
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    for count, workers in ((None, 1), (1, 1), (4, 4), (64, 8)):
        monkeypatch.setattr(os, "cpu_count", lambda count=count: count)
        assert vad._default_workers() == workers


def test_a_second_ctrl_c_while_joining_still_waits_for_the_workers() -> None:
    from app.core.audio import vad

    class Worker:
        """A thread whose first two joins are interrupted by Ctrl+C."""

        def __init__(self) -> None:
            self.joins = 0

        def join(self) -> None:
            self.joins += 1
            if self.joins <= 2:
                raise KeyboardInterrupt

        def is_alive(self) -> bool:
            return self.joins < 3

    worker = Worker()
    stop = threading.Event()
    with pytest.raises(KeyboardInterrupt):
        vad._join_all([worker], stop)  # type: ignore[list-item]
    assert stop.is_set()
    assert worker.joins == 3 and not worker.is_alive()


def test_progress_moves_in_small_steps_up_to_the_end() -> None:
    """The bar moves all along (no long stall, no jump at the end), from every worker."""
    noise = np.random.default_rng(4).standard_normal(180 * 16000).astype(np.float32) * 0.01
    for workers in (1, 2):
        seen: list[float] = []
        detect_speech(
            noise, options=VadOptions(workers=workers, max_stretches=8), progress=seen.append
        )
        assert seen[-1] == 1.0
        steps = np.diff([0.0, *seen])
        assert steps.min() >= 0.0 and steps.max() < 0.1, (workers, seen[:5], seen[-5:])
        assert len(seen) > 10


@pytest.mark.parametrize("workers", [1, 2])
def test_an_error_in_a_worker_reaches_the_caller(
    workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core.audio import vad

    class Broken:
        features = 128

        def front(self, *_args: object) -> None:
            raise RuntimeError("silero broke")

    monkeypatch.setattr(vad, "_acquire_net", Broken)
    noise = np.zeros(60 * 16000, np.float32)
    with pytest.raises(RuntimeError, match="silero broke"):
        detect_speech(noise, options=VadOptions(workers=workers, max_stretches=8))


@pytest.mark.parametrize("n", [1, 100, 512, 513, 48_000])
def test_no_warning_for_any_length(n: int) -> None:
    """A warning printed by the decoding process would reach the command line's output
    (torch warns about read-only arrays: one window's frames once came as a view)."""
    import warnings

    samples = np.random.default_rng(n).standard_normal(n).astype(np.float32) * 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        probs = speech_probabilities(samples)
    assert len(probs) == -(-n // 512)


# --------------------------------------------------------------------------- without torch


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_region_rules_give_silero_s_own_stamps(seed: int) -> None:
    """The hysteresis rules written here (silero's module imports torch) against silero's
    own function, on probabilities that wander across both thresholds."""
    from silero_vad.utils_vad import get_speech_timestamps_from_probs

    rng = np.random.default_rng(seed)
    n = 3000
    walk = np.cumsum(rng.normal(0, 0.08, n))
    probs = (1 / (1 + np.exp(-(walk - walk.mean())))).astype(np.float32)
    probs[rng.integers(0, n, 40)] = rng.choice([0.0, 0.36, 0.5, 0.34, 1.0], 40)
    n_samples = n * 512 - int(rng.integers(0, 511))
    for threshold, min_speech, min_silence, pad in [
        (0.5, 250, 300, 100),
        (0.3, 0, 100, 30),
        (0.7, 1000, 0, 0),
        (0.1, 64, 2000, 400),
    ]:
        expected = get_speech_timestamps_from_probs(
            [float(p) for p in probs],
            sampling_rate=16000,
            threshold=threshold,
            min_speech_duration_ms=min_speech,
            min_silence_duration_ms=min_silence,
            speech_pad_ms=pad,
            audio_length_samples=n_samples,
        )
        got = vad._silero_timestamps(
            probs,
            n_samples,
            sample_rate=16000,
            threshold=threshold,
            min_speech_ms=min_speech,
            min_silence_ms=min_silence,
            speech_pad_ms=pad,
        )
        assert expected, "the case should have speech"
        assert got == [[s["start"], s["end"]] for s in expected]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_weights_are_cached_for_processes_without_torch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The first read takes the JIT model's weights and keeps them under the data folder;
    the next reads come from there. A damaged file is read again from the model."""
    cache = vad.weights_cache_path()
    assert cache is not None and not cache.exists()
    first = vad._weights()
    assert cache.is_file()
    model = vad._acquire_model()
    try:
        direct = vad._weights_from_jit(model)
    finally:
        vad._release_model(model)
    again = vad._weights()
    assert sorted(first) == sorted(direct) == sorted(again)
    for name in direct:
        np.testing.assert_array_equal(again[name], direct[name])
    cache.write_bytes(cache.read_bytes()[:5000])  # cut short
    with caplog.at_level("WARNING", logger="app.core.audio.vad"):
        repaired = vad._weights()
    assert "unreadable" in caplog.text
    np.testing.assert_array_equal(repaired["lstm.weight_hh"], direct["lstm.weight_hh"])
    np.testing.assert_array_equal(vad._weights()["head.bias"], direct["head.bias"])


def test_the_decoding_process_s_work_never_imports_torch(
    speech_track: SpeechTrack, tmp_path: Path
) -> None:
    """What the decoding process runs (decoding, then speech detection stretch by
    stretch) imports no torch once the weights are cached: it would cost that process
    1.6-1.8 s of a core an hour."""
    import os
    import subprocess
    import sys

    vad._weights()  # this test's data folder now holds them
    script = (
        "import sys\n"
        "from app.core.audio import stretch_process, stretches, vad\n"
        "producer = stretches.SpeechStretches(sys.argv[1], vad.VadOptions(), stretch_s=4)\n"
        "producer.run()\n"
        "items = []\n"
        "while not producer.items.empty():\n"
        "    items.append(producer.items.get())\n"
        "found = sum(len(i.regions) for i in items if isinstance(i, stretches.Stretch))\n"
        "print(type(items[-1]).__name__, found, 'torch' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(speech_track.path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parent.parent,
        env=dict(os.environ),
    )
    assert done.returncode == 0, done.stderr
    kind, found, torch_imported = done.stdout.split()
    assert kind == "Decoded" and int(found) >= len(speech_track.sentences)
    assert torch_imported == "False"


def test_numpy_blas_runs_on_one_thread_once_the_network_is_built() -> None:
    from threadpoolctl import threadpool_info

    vad._acquire_net()
    numpy_blas = [
        lib
        for lib in threadpool_info()
        if lib["user_api"] == "blas" and "numpy" in Path(lib["filepath"]).parent.name
    ]
    assert numpy_blas and all(lib["num_threads"] == 1 for lib in numpy_blas)
