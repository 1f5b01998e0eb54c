"""Chunking: at most 30 s, at pauses, exact places in the media."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from app.core.audio.chunking import (
    Chunk,
    ChunkOptions,
    ChunkPlanner,
    chunk_audio,
    make_chunks,
    split_long_region,
)
from app.core.audio.media import decode_audio
from app.core.audio.vad import SpeechRegion, detect_speech
from tests.speech import SpeechTrack

EPS = 1e-9


def check_chunks(
    chunks: list[Chunk],
    regions: list[SpeechRegion],
    options: ChunkOptions | None = None,
    media_duration: float | None = None,
) -> None:
    """The properties every chunking must have."""
    options = options or ChunkOptions()
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert c.regions, "a chunk without speech"
        assert c.duration <= options.max_chunk_s + EPS
        assert c.start == c.regions[0].start and c.end == c.regions[-1].end
        for a, b in zip(c.regions, c.regions[1:], strict=False):
            assert a.end <= b.start + EPS
            assert b.start - a.end <= options.max_pause_s + EPS, "chunk spans a long pause"
        if media_duration is not None:
            assert c.start >= 0.0 and c.end <= media_duration + EPS
    for a, b in itertools.pairwise(chunks):
        assert a.end <= b.start + EPS and a.start < b.start
    # Every region is covered, exactly, by the chunks' regions.
    covered = sum(r.end - r.start for c in chunks for r in c.regions)
    assert covered == pytest.approx(sum(r.end - r.start for r in regions), abs=1e-6)
    for r in regions:
        assert any(c.start - EPS <= r.start and r.end <= c.end + EPS for c in chunks) or (
            r.end - r.start > options.max_chunk_s
        )


def regions_with_pauses(lengths: list[float], pauses: list[float], t0: float = 0.5):
    out, t = [], t0
    for i, length in enumerate(lengths):
        out.append(SpeechRegion(t, t + length))
        t += length + (pauses[i] if i < len(pauses) else 0.0)
    return out


def test_short_pauses_are_merged_long_pauses_split() -> None:
    regions = regions_with_pauses([3, 4, 2, 5], [0.5, 1.5, 0.9])
    chunks = make_chunks(regions)
    check_chunks(chunks, regions)
    assert [len(c.regions) for c in chunks] == [2, 2]
    assert chunks[0].start == 0.5 and chunks[0].end == pytest.approx(8.0)


def test_max_pause_is_configurable() -> None:
    regions = regions_with_pauses([3, 4, 2], [0.5, 0.8])
    assert len(make_chunks(regions, ChunkOptions(max_pause_s=1.0))) == 1
    assert len(make_chunks(regions, ChunkOptions(max_pause_s=0.6))) == 2
    assert len(make_chunks(regions, ChunkOptions(max_pause_s=0.3))) == 3


def test_long_runs_are_cut_at_the_longest_pause_with_fewest_chunks() -> None:
    # 8 regions of 5 s, short pauses; one pause (after the 3rd) is clearly the longest.
    pauses = [0.2, 0.2, 0.9, 0.2, 0.2, 0.3, 0.2]
    regions = regions_with_pauses([5.0] * 8, pauses)
    chunks = make_chunks(regions)
    check_chunks(chunks, regions)
    assert len(chunks) == 2  # 41.4 s of run needs two chunks
    assert len(chunks[0].regions) == 3  # cut at the 0.9 s pause


def test_greedy_would_need_more_chunks() -> None:
    regions = regions_with_pauses([12.0, 12.0, 12.0, 12.0, 12.0], [0.5] * 4)
    chunks = make_chunks(regions)
    check_chunks(chunks, regions)
    assert len(chunks) == 3


def test_long_region_split_evenly_without_samples() -> None:
    region = SpeechRegion(2.0, 77.0)
    pieces = split_long_region(region, 30.0)
    assert len(pieces) == 3
    assert all(p.end - p.start == pytest.approx(25.0) for p in pieces)
    chunks = make_chunks([region])
    check_chunks(chunks, [region])
    assert len(chunks) == 3
    assert chunks[0].start == 2.0 and chunks[-1].end == 77.0


def test_long_region_split_at_its_quietest_point() -> None:
    sr = 16000
    rng = np.random.default_rng(0)
    samples = (0.3 * rng.standard_normal(50 * sr)).astype(np.float32)
    dip = (26.3, 26.5)  # a short quiet spot inside the allowed span
    samples[int(dip[0] * sr) : int(dip[1] * sr)] *= 0.001
    other = (12.0, 12.3)  # quieter but too early: would waste most of the span
    samples[int(other[0] * sr) : int(other[1] * sr)] = 0.0
    region = SpeechRegion(0.0, 50.0)
    chunks = make_chunks([region], samples=samples, sample_rate=sr)
    check_chunks(chunks, [region])
    assert len(chunks) == 2
    assert dip[0] - 0.05 <= chunks[0].end <= dip[1] + 0.05
    assert chunks[1].start == chunks[0].end


def test_regions_are_clipped_to_the_media() -> None:
    regions = [SpeechRegion(-0.2, 2.0), SpeechRegion(2.5, 11.0)]
    chunks = make_chunks(regions, media_duration=10.0)
    assert chunks[0].start == 0.0 and chunks[-1].end == 10.0


def test_no_regions_no_chunks() -> None:
    assert make_chunks([]) == []


def test_chunk_audio_is_the_chunk_span() -> None:
    samples = np.arange(16000 * 10, dtype=np.float32)
    chunk = Chunk(index=0, start=1.5, end=4.25, regions=(SpeechRegion(1.5, 4.25),))
    part = chunk_audio(samples, 16000, chunk)
    assert len(part) == round(2.75 * 16000)
    assert part[0] == 1.5 * 16000


@pytest.mark.parametrize("seed", range(20))
def test_random_regions_keep_all_properties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    t, regions = 0.0, []
    for _ in range(rng.integers(1, 60)):
        t += float(rng.choice([rng.uniform(0.05, 1.0), rng.uniform(1.0, 5.0)]))
        length = float(rng.choice([rng.uniform(0.3, 8.0), rng.uniform(20.0, 70.0)], p=[0.9, 0.1]))
        regions.append(SpeechRegion(t, t + length))
        t += length
    options = ChunkOptions(max_chunk_s=30.0, max_pause_s=float(rng.uniform(0.3, 1.5)))
    chunks = make_chunks(regions, options, media_duration=t + 1.0)
    check_chunks(chunks, regions, options, media_duration=t + 1.0)


def test_real_speech_chunks(long_speech_track: SpeechTrack) -> None:
    samples = decode_audio(long_speech_track.path).samples
    duration = len(samples) / 16000
    regions = detect_speech(samples)
    options = ChunkOptions(max_chunk_s=12.0, max_pause_s=1.0)
    chunks = make_chunks(regions, options, duration, samples=samples, sample_rate=16000)
    check_chunks(chunks, regions, options, duration)
    # Each sentence lies in one chunk; the 1.5 s and 2.5 s pauses are chunk borders.
    for onset, offset in zip(long_speech_track.onsets, long_speech_track.offsets, strict=True):
        assert any(c.start <= onset and offset <= c.end for c in chunks)
    for gap_start, gap_end, pause in zip(
        long_speech_track.offsets[:-1],
        long_speech_track.onsets[1:],
        long_speech_track.pauses,
        strict=True,
    ):
        if pause > options.max_pause_s + 0.4:  # regions are padded/extended by VAD
            assert not any(c.start < gap_start and gap_end < c.end for c in chunks)


def noise_with_silences(seconds: float, sr: int, silences: list[tuple[float, float]]) -> np.ndarray:
    samples = (0.3 * np.random.default_rng(1).standard_normal(round(seconds * sr))).astype(
        np.float32
    )
    for a, b in silences:
        samples[round(a * sr) : round(b * sr)] = 0.0
    return samples


def test_long_region_cuts_fall_inside_the_silences_at_any_rate_and_start() -> None:
    """A 70 s region from 5 s, 8 kHz audio, 0.2 s of silence at 31.3 s and at 58.0 s:
    each cut is in its silence (at the last of the equally quiet frames there)."""
    sr = 8000
    samples = noise_with_silences(80.0, sr, [(31.3, 31.5), (58.0, 58.2)])
    pieces = split_long_region(SpeechRegion(5.0, 75.0), 30.0, samples, sr)
    assert [(p.start, p.end) for p in pieces] == [
        (5.0, pytest.approx(31.4425, abs=1e-3)),
        (pytest.approx(31.4425, abs=1e-3), pytest.approx(58.145, abs=1e-3)),
        (pytest.approx(58.145, abs=1e-3), 75.0),
    ]
    chunks = make_chunks([SpeechRegion(5.0, 75.0)], samples=samples, sample_rate=sr)
    assert [(c.start, c.end) for c in chunks] == [(p.start, p.end) for p in pieces]


def test_equally_quiet_spots_cut_at_the_later_one() -> None:
    """Two silences in the allowed span: the later one leaves the first chunk fuller."""
    samples = noise_with_silences(40.0, 16000, [(21.0, 21.2), (27.0, 27.2)])
    pieces = split_long_region(SpeechRegion(0.0, 40.0), 30.0, samples, 16000)
    assert [(p.start, p.end) for p in pieces] == [
        (0.0, pytest.approx(27.1425, abs=1e-3)),
        (pytest.approx(27.1425, abs=1e-3), 40.0),
    ]


def test_even_split_counts_from_the_region_start() -> None:
    assert split_long_region(SpeechRegion(3.0, 63.0), 30.0) == [
        SpeechRegion(3.0, 33.0),
        SpeechRegion(33.0, 63.0),
    ]
    thirds = split_long_region(SpeechRegion(3.0, 64.0), 30.0)
    assert [(p.start, p.end) for p in thirds] == [
        (3.0, pytest.approx(23.0 + 1 / 3)),
        (pytest.approx(23.0 + 1 / 3), pytest.approx(43.0 + 2 / 3)),
        (pytest.approx(43.0 + 2 / 3), 64.0),
    ]
    assert split_long_region(SpeechRegion(40.0, 70.0), 30.0) == [SpeechRegion(40.0, 70.0)]


def test_max_chunk_must_be_positive_and_a_pause_of_exactly_max_pause_is_kept() -> None:
    with pytest.raises(ValueError, match=r"^max_chunk_s must be positive$"):
        make_chunks([SpeechRegion(0.0, 1.0)], ChunkOptions(max_chunk_s=0.0))
    small = make_chunks([SpeechRegion(0.0, 1.0)], ChunkOptions(max_chunk_s=0.5))
    assert [(c.start, c.end) for c in small] == [(0.0, 0.5), (0.5, 1.0)]
    regions = [SpeechRegion(0.5, 3.5), SpeechRegion(4.5, 6.0)]  # a pause of exactly 1.0 s
    assert len(make_chunks(regions, ChunkOptions(max_pause_s=1.0))) == 1


def best_grouping(run: list[SpeechRegion], max_s: float) -> list[int]:
    """Brute force: group sizes with the fewest groups of at most ``max_s``, then the
    largest total of the pauses cut at."""
    n = len(run)
    best: tuple[int, float] | None = None
    sizes: list[int] = []
    for mask in range(1 << (n - 1)):
        cuts = [i for i in range(1, n) if mask >> (i - 1) & 1]
        bounds = [0, *cuts, n]
        if any(run[b - 1].end - run[a].start > max_s + EPS for a, b in itertools.pairwise(bounds)):
            continue
        key = (len(bounds) - 1, -sum(run[i].start - run[i - 1].end for i in cuts))
        if best is None or key < best:
            best, sizes = key, [b - a for a, b in itertools.pairwise(bounds)]
    return sizes


@pytest.mark.parametrize("seed", range(12))
def test_cuts_match_a_brute_force_search(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(3, 10))
    lengths = [float(x) for x in np.round(rng.uniform(1.0, 14.0, n), 2)]
    pauses = [float(x) for x in np.round(rng.uniform(0.05, 0.95, n - 1), 2)]
    run = regions_with_pauses(lengths, pauses, t0=float(np.round(rng.uniform(0, 5), 2)))
    chunks = make_chunks(run)
    assert [len(c.regions) for c in chunks] == best_grouping(run, 30.0)


def test_a_run_is_cut_at_its_first_pause_when_that_one_is_the_longest() -> None:
    # 0-10, 10.9-20, 20.5-29: two chunks are needed; the 0.9 s pause beats the 0.5 s one
    regions = [SpeechRegion(0.0, 10.0), SpeechRegion(10.9, 20.0), SpeechRegion(20.5, 29.0)]
    chunks = make_chunks(regions, ChunkOptions(max_chunk_s=25.0))
    assert [(c.start, c.end) for c in chunks] == [(0.0, 10.0), (10.9, 29.0)]


def test_a_long_region_with_no_samples_at_all_is_split_evenly() -> None:
    region = SpeechRegion(0.0, 50.0)
    expected = [SpeechRegion(0.0, 25.0), SpeechRegion(25.0, 50.0)]
    assert split_long_region(region, 30.0, np.zeros(0, dtype=np.float32)) == expected
    assert split_long_region(region, 30.0) == expected


def test_chunk_audio_from_the_first_sample() -> None:
    samples = np.arange(16000 * 2, dtype=np.float32)
    chunk = Chunk(index=0, start=0.0, end=0.5, regions=(SpeechRegion(0.0, 0.5),))
    assert chunk_audio(samples, 16000, chunk).tolist() == list(range(8000))


def test_packing_never_fills_a_window_past_its_length() -> None:
    # 4.75 s + 0.5 s of gap + 5.25 s is 10.5 s: over a 10 s window, so two chunks
    regions = [SpeechRegion(0.0, 4.75), SpeechRegion(10.0, 15.25)]
    full = ChunkOptions(max_chunk_s=10.0, pack=True, pack_gap_s=0.5, pack_fill=1.0)
    chunks = make_chunks(regions, full)
    assert [(c.start, c.end, c.pieces) for c in chunks] == [(0.0, 4.75, ()), (10.0, 15.25, ())]
    fits = [SpeechRegion(0.0, 4.75), SpeechRegion(10.0, 14.75)]  # 10.0 s: one window
    (chunk,) = make_chunks(fits, full)
    assert chunk.pieces == ((0.0, 4.75), (10.0, 14.75))
    assert chunk.audio_seconds == 10.0


def test_the_audio_of_two_packed_pieces_is_both_with_the_gap_between() -> None:
    samples = np.arange(1, 101, dtype=np.float32)  # 100 samples at 10 Hz
    chunk = Chunk(
        index=0,
        start=1.0,
        end=8.0,
        regions=(SpeechRegion(1.0, 1.3), SpeechRegion(7.5, 8.0)),
        pieces=((1.0, 1.3), (7.5, 8.0)),
        gap_s=0.2,
    )
    audio = chunk_audio(samples, 10, chunk)
    assert audio.dtype == np.float32
    assert audio.tolist() == [11.0, 12.0, 13.0, 0.0, 0.0, 76.0, 77.0, 78.0, 79.0, 80.0]


def test_a_long_region_past_the_end_of_its_samples_is_cut_at_the_span_limit() -> None:
    one_second = np.full(16000, 0.1, dtype=np.float32)
    pieces = split_long_region(SpeechRegion(0.0, 50.0), 30.0, one_second)
    assert pieces == [SpeechRegion(0.0, 30.0), SpeechRegion(30.0, 50.0)]


def test_the_planner_takes_chunks_under_a_second_and_refuses_zero() -> None:
    planner = ChunkPlanner(ChunkOptions(max_chunk_s=0.5))
    assert [(c.start, c.end) for c in planner.add([SpeechRegion(0.0, 0.4)], 5.0)] == [(0.0, 0.4)]
    with pytest.raises(ValueError, match=r"^max_chunk_s must be positive$"):
        ChunkPlanner(ChunkOptions(max_chunk_s=0.0))


def test_no_speech_in_decoded_samples_gives_no_chunks() -> None:
    assert make_chunks([], samples=np.zeros(16000, dtype=np.float32)) == []
