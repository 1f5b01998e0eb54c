"""Who spoke when: embed windows of speech, cluster them, and label the cues.

1. Windows of ``window_s`` (1.5 s) every ``hop_s`` (0.75 s) over each speech
   region (a region shorter than a window gets one window centred on it).
2. Each window is embedded with the GE2E voice encoder (:mod:`.encoder`).
3. Average-linkage agglomerative clustering on cosine distance (:mod:`.linkage`), then a
   few centroid reassignment passes. With ``speakers=None`` the number of
   speakers is estimated. A count k in 2..``max_speakers`` is a candidate when
   its k clusters all hold at least ``min_share`` of the windows (and
   ``min_windows``) and their centroids are all at least ``min_speaker_distance``
   apart. Of the candidates, the largest whose clusters are about as well
   separated as the best (mean silhouette at most ``silhouette_slack`` below the
   highest) wins; with no candidate there is one speaker. A cut that also makes
   clusters of a few outlier windows counts for its large clusters (the outliers
   join the nearest). The largest candidate alone over-counted: one voice's
   windows also group by what is said, into parts a little more than
   ``min_speaker_distance`` apart, but such a cut separates worse. The best
   silhouette alone under-counted two similar voices (espeak's en-us m3 and m7)
   on longer material, where 2 and 3 clusters scored within 0.003 of each other.
4. Labels are smoothed: a run of windows shorter than ``min_turn_s`` between two
   runs of one speaker takes their label, so turns do not flicker (unless the run
   is a speech region of its own, between pauses: a short answer is a turn).
5. :func:`assign_speakers` gives each cue the speaker who holds most of its
   time; a cue that holds a speaker change is split there (its words cut in
   proportion to the speech on either side), so a cue never holds two speakers.

Speakers are named "Speaker 1", "Speaker 2", ... in order of first appearance.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from app.core.audio.vad import SpeechRegion, _default_workers, run_workers
from app.core.errors import Cancelled, MurmurError
from app.core.speakers import encoder as enc
from app.core.speakers.linkage import average_linkage, cosine_distances, maxclust
from app.core.transcript.model import Segment
from app.core.transcript.text import SENTENCE_END_LATIN, SENTENCE_END_WIDE


class DiarizationError(MurmurError, ValueError):
    """Bad speaker options (a count below 1, ...)."""


@dataclass(frozen=True)
class DiarizeOptions:
    speakers: int | None = None  # None: estimate
    max_speakers: int = 8
    window_s: float = 1.5
    hop_s: float = 0.75
    # Two clusters are two voices only when their centroids are at least this far apart
    # (cosine distance). Measured on espeak-ng voices: halves of one voice 0.07-0.08,
    # different voices 0.12-0.18 (real voices differ more).
    min_speaker_distance: float = 0.1
    min_share: float = 0.03  # clusters with fewer windows than this share are not speakers
    min_windows: int = 4  # ... nor those with fewer windows than this (about 3 s of speech)
    # A larger count wins a near-tie: when its mean silhouette is at most this far below
    # the best (merging two labels in the editor is one step; splitting one is many).
    # Measured on espeak conversations: cuts of one voice by content score 0.015-0.04
    # below the true count; two similar voices, 0.003 above one merged voice.
    silhouette_slack: float = 0.01
    min_turn_s: float = 1.0
    min_split_s: float = 0.3  # a cue is split only when both sides hold this much speech
    workers: int | None = None  # threads embedding windows; None = one per CPU

    def __post_init__(self) -> None:
        if self.speakers is not None and (
            isinstance(self.speakers, bool)
            or not isinstance(self.speakers, int)
            or self.speakers < 1
        ):
            raise DiarizationError(f"Number of speakers must be 1 or more, not {self.speakers!r}")


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    speaker: str


def speaker_name(index: int) -> str:
    return f"Speaker {index + 1}"


def parse_speakers(value: str | int | None) -> int | bool | None:
    """``"auto"`` -> None (estimate), ``"3"``/3 -> 3, ``None``/``"off"`` -> False (no stage)."""
    if value is None or value is False:
        return False
    if isinstance(value, int) and not isinstance(value, bool):
        n = value
    else:
        text = str(value).strip().lower()
        if text in ("auto", ""):
            return None
        if text in ("off", "no", "none"):
            return False
        try:
            n = int(text)
        except ValueError:
            raise DiarizationError(
                f"--speakers must be 'auto' or a number of speakers, not {value!r}"
            ) from None
    if n < 1:
        raise DiarizationError(f"Number of speakers must be 1 or more, not {n}")
    return n


# --------------------------------------------------------------------------- windows


def _windows(
    regions: Sequence[SpeechRegion], duration: float, options: DiarizeOptions
) -> list[tuple[float, float, int]]:
    """(start, end, region index) of each window, in time order."""
    out: list[tuple[float, float, int]] = []
    win, hop = options.window_s, options.hop_s
    for r_index, region in enumerate(regions):
        if region.duration <= win:
            mid = (region.start + region.end) / 2
            start = min(max(0.0, mid - win / 2), max(0.0, duration - win))
            out.append((start, start + win, r_index))
            continue
        count = int(np.ceil((region.duration - win) / hop)) + 1
        last = region.end - win
        for i in range(count):
            start = min(region.start + i * hop, last)
            out.append((start, start + win, r_index))
    return out


def embed_block(
    samples: np.ndarray, sample_rate: int, part: Sequence[tuple[float, float, int]], frames: int
) -> np.ndarray:
    """(len(part), 256) embeddings of windows of ``frames`` mel frames, in one batch."""
    # mel of the span the block covers, once, then sliced per window; on the frame grid
    # of the whole file, so a window's frames never depend on the block it is in
    a = max(0, (int(part[0][0] * sample_rate) - enc.N_FFT) // enc.HOP * enc.HOP)
    b = min(len(samples), int(max(w[1] for w in part) * sample_rate) + enc.N_FFT)
    mel = enc.mel_frames(samples[a:b])
    batch = np.zeros((len(part), frames, enc.N_MELS), np.float32)
    for i, (start, _end, _r) in enumerate(part):
        f0 = max(0, round((start * sample_rate - a) / enc.HOP))
        piece = mel[f0 : f0 + frames]
        batch[i, : len(piece)] = piece
    return enc.shared_encoder().embed(batch, batch_size=len(part))


def embed_windows(
    samples: np.ndarray,
    sample_rate: int,
    windows: Sequence[tuple[float, float, int]],
    window_s: float,
    cancel: threading.Event | None = None,
    workers: int | None = None,
) -> np.ndarray:
    """(n, 256) embeddings of the windows (all of length ``window_s``).

    Blocks of windows are embedded by ``workers`` threads (None: one per CPU), each
    with one torch intra-op thread. That is the fast way on a few cores: the LSTM's
    steps are small matrix products, and splitting each of them over threads costs
    more in synchronisation than it gains; on a busy machine (other processes on
    the cores) the spinning threads even slowed it several-fold (benchmarks/README.md).
    """
    if sample_rate != enc.SAMPLE_RATE:
        raise DiarizationError(f"Speaker detection needs {enc.SAMPLE_RATE} Hz audio")
    frames = round(window_s * sample_rate / enc.HOP)
    out = np.zeros((len(windows), enc.EMBEDDING_SIZE), np.float32)
    if not windows:
        return out
    enc.shared_encoder()  # loaded once, before the workers start
    workers = max(1, workers if workers is not None else _default_workers())
    # at most 256 windows a block (memory), and enough blocks to keep every worker busy
    block = max(1, min(256, math.ceil(len(windows) / (2 * workers))))
    starts = iter(range(0, len(windows), block))
    take = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            while not stop.is_set():
                if cancel is not None and cancel.is_set():
                    raise Cancelled()
                with take:
                    lo = next(starts, None)
                if lo is None:
                    return
                part = windows[lo : lo + block]
                out[lo : lo + len(part)] = embed_block(samples, sample_rate, part, frames)
        except BaseException as exc:
            errors.append(exc)
            stop.set()

    run_workers(work, [()] * workers, stop, "murmur-speakers")
    if errors:
        raise errors[0]
    return out


# --------------------------------------------------------------------------- clustering


def _refine(emb: np.ndarray, labels: np.ndarray, passes: int = 3) -> np.ndarray:
    for _ in range(passes):
        ids = np.unique(labels)
        cent = np.stack([emb[labels == i].mean(axis=0) for i in ids])
        cent /= np.linalg.norm(cent, axis=1, keepdims=True).clip(1e-9)
        new = ids[np.argmax(emb @ cent.T, axis=1)]
        if np.array_equal(new, labels):
            break
        labels = new
    return labels


def _min_centroid_distance(emb: np.ndarray, labels: np.ndarray) -> float:
    ids = np.unique(labels)
    cent = np.stack([emb[labels == i].mean(axis=0) for i in ids])
    cent /= np.linalg.norm(cent, axis=1, keepdims=True).clip(1e-9)
    dist = 1.0 - cent @ cent.T
    return float(dist[np.triu_indices(len(ids), 1)].min())


def _drop_small(emb: np.ndarray, labels: np.ndarray, min_count: int) -> np.ndarray:
    ids, counts = np.unique(labels, return_counts=True)
    keep = ids[counts >= min_count]
    if len(keep) == 0 or len(keep) == len(ids):
        return labels
    cent = np.stack([emb[labels == i].mean(axis=0) for i in keep])
    small = ~np.isin(labels, keep)
    labels = labels.copy()
    labels[small] = keep[np.argmax(emb[small] @ cent.T, axis=1)]
    return labels


def cluster(emb: np.ndarray, options: DiarizeOptions) -> np.ndarray:
    """A cluster id per embedding (ids are arbitrary)."""
    n = len(emb)
    if n == 0:
        return np.zeros(0, int)
    if n == 1 or options.speakers == 1:
        return np.zeros(n, int)
    tree = average_linkage(cosine_distances(emb))
    if options.speakers is not None:
        labels = maxclust(tree, min(options.speakers, n))
        return _refine(emb, labels)
    min_count = max(options.min_windows, int(np.ceil(options.min_share * n)))
    # silhouettes on at most _SILHOUETTE_WINDOWS windows, evenly spread (memory: n^2)
    sample = np.unique(np.linspace(0, n - 1, min(n, _SILHOUETTE_WINDOWS)).round().astype(int))
    dist = np.clip(1.0 - emb[sample] @ emb[sample].T, 0.0, 2.0)
    most = min(options.max_speakers, n // min_count)
    candidates: dict[int, tuple[float, np.ndarray]] = {}  # count -> (silhouette, labels)
    # A cut into k clusters may hold a few outlier windows as clusters of their own:
    # they join the nearest large cluster, and the cut counts for its large ones.
    for k in range(2, min(n, 3 * most) + 1):
        labels = _drop_small(emb, maxclust(tree, k), min_count)
        count = len(np.unique(labels))
        if count > most:
            break
        if count < 2 or count in candidates:
            continue
        labels = _refine(emb, labels)
        if not _all_large(labels, count, min_count) or _min_centroid_distance(emb, labels) < (
            options.min_speaker_distance
        ):
            continue
        candidates[count] = (silhouette(dist, labels[sample]), labels)
    if not candidates:
        return np.zeros(n, int)
    floor = max(score for score, _labels in candidates.values()) - options.silhouette_slack
    return candidates[max(c for c, (score, _l) in candidates.items() if score >= floor)][1]


_SILHOUETTE_WINDOWS = 2000


def silhouette(dist: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette of a clustering, from the square matrix of distances.

    For each point, a = mean distance to the others of its cluster, b = the
    lowest mean distance to another cluster; its silhouette is (b - a) / max(a, b),
    0 for a point alone in its cluster. 1 is perfectly separated clusters.
    """
    ids, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if len(ids) < 2:
        return 0.0
    rows = np.arange(len(labels))
    sums = dist @ np.eye(len(ids))[inverse]  # (n, k): summed distance to each cluster
    own = counts[inverse]
    a = sums[rows, inverse] / np.maximum(own - 1, 1)  # the diagonal's 0 is not counted
    means = sums / counts
    means[rows, inverse] = np.inf
    b = means.min(axis=1)
    score = np.where(own > 1, (b - a) / np.maximum(np.maximum(a, b), 1e-12), 0.0)
    return float(score.mean())


def _all_large(labels: np.ndarray, k: int, min_count: int) -> bool:
    """``k`` clusters, none with fewer than ``min_count`` windows."""
    _ids, counts = np.unique(labels, return_counts=True)
    return len(counts) == k and int(counts.min()) >= min_count


def smooth(
    labels: np.ndarray, windows: Sequence[tuple[float, float, int]], options: DiarizeOptions
) -> np.ndarray:
    """Runs shorter than ``min_turn_s`` between two runs of one label take that label.

    Only runs that share a speech region with a neighbour run are flicker: a short
    utterance on its own between pauses ("Yes.") is a turn and keeps its label."""
    labels = labels.copy()
    min_windows = max(1, math.ceil(options.min_turn_s / options.hop_s - 1e-9))
    changed = True
    while changed:
        changed = False
        runs: list[tuple[int, int]] = []  # [lo, hi)
        lo = 0
        for i in range(1, len(labels) + 1):
            if i == len(labels) or labels[i] != labels[lo]:
                runs.append((lo, i))
                lo = i
        for j in range(1, len(runs) - 1):
            lo, hi = runs[j]
            before, after = labels[runs[j - 1][0]], labels[runs[j + 1][0]]
            joined = windows[lo][2] == windows[lo - 1][2] or windows[hi - 1][2] == windows[hi][2]
            if hi - lo < min_windows and before == after and labels[lo] != before and joined:
                labels[lo:hi] = before
                changed = True
                break
    return labels


def turns_from_labels(
    labels: np.ndarray,
    windows: Sequence[tuple[float, float, int]],
    regions: Sequence[SpeechRegion],
) -> list[Turn]:
    """Speech regions cut at the middle between windows of different speakers."""
    order: dict[int, str] = {}
    for label in labels:
        order.setdefault(int(label), speaker_name(len(order)))
    turns: list[Turn] = []
    by_region: dict[int, list[int]] = {}
    for i, (_s, _e, r) in enumerate(windows):
        by_region.setdefault(r, []).append(i)
    for r_index, region in enumerate(regions):
        idx = by_region.get(r_index)
        if not idx:
            continue
        start = region.start
        for a, b in itertools.pairwise(idx):
            if labels[a] != labels[b]:
                mid_a = (windows[a][0] + windows[a][1]) / 2
                mid_b = (windows[b][0] + windows[b][1]) / 2
                cut = (mid_a + mid_b) / 2
                turns.append(Turn(start, cut, order[int(labels[a])]))
                start = cut
        turns.append(Turn(start, region.end, order[int(labels[idx[-1]])]))
    # join neighbours of one speaker
    merged: list[Turn] = []
    for turn in turns:
        if merged and merged[-1].speaker == turn.speaker:
            merged[-1] = Turn(merged[-1].start, turn.end, turn.speaker)
        else:
            merged.append(turn)
    return merged


def diarize(
    samples: np.ndarray,
    sample_rate: int,
    regions: Sequence[SpeechRegion],
    options: DiarizeOptions | None = None,
    cancel: threading.Event | None = None,
) -> list[Turn]:
    """Who speaks when, over the speech regions."""
    options = options or DiarizeOptions()
    regions = [r for r in regions if r.end > r.start]
    if not regions:
        return []
    duration = len(samples) / sample_rate
    windows = _windows(regions, duration, options)
    emb = embed_windows(samples, sample_rate, windows, options.window_s, cancel, options.workers)
    labels = smooth(cluster(emb, options), windows, options)
    return turns_from_labels(labels, windows, regions)


# --------------------------------------------------------------------------- cues


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def _split_text(text: str, fraction: float) -> tuple[str, str]:
    """Cut text at a word boundary near ``fraction`` of its characters (a sentence end wins)."""
    words = text.split(" ")
    if len(words) < 2:
        if len(text) < 2 or " " in text:
            return text, ""
        cut = min(len(text) - 1, max(1, round(fraction * len(text))))  # CJK: between characters
        return text[:cut], text[cut:]
    target = fraction * len(text)
    best, best_cost = 1, np.inf
    pos = 0
    ends = tuple(SENTENCE_END_LATIN | SENTENCE_END_WIDE)
    for i in range(1, len(words)):
        pos += len(words[i - 1]) + 1
        cost = abs(pos - target)
        if words[i - 1].rstrip("\"')]»”’").endswith(ends):
            cost -= 0.25 * len(text)  # a sentence end near the change is the likely cut
        if cost < best_cost:
            best, best_cost = i, cost
    return " ".join(words[:best]), " ".join(words[best:])


def _speech_between(regions: Sequence[SpeechRegion], a: float, b: float) -> float:
    return sum(_overlap(a, b, r.start, r.end) for r in regions)


def assign_speakers(
    segments: Sequence[Segment],
    turns: Sequence[Turn],
    regions: Sequence[SpeechRegion] = (),
    options: DiarizeOptions | None = None,
) -> list[Segment]:
    """Give each cue its speaker, splitting a cue at a speaker change inside it."""
    options = options or DiarizeOptions()
    out: list[Segment] = []
    for seg in segments:
        out.extend(_assign_one(seg, turns, regions, options))
    return out


def _assign_one(
    seg: Segment, turns: Sequence[Turn], regions: Sequence[SpeechRegion], options: DiarizeOptions
) -> list[Segment]:
    inside = [t for t in turns if _overlap(seg.start, seg.end, t.start, t.end) > 0]
    if not inside:
        nearest = min(
            turns,
            key=lambda t: min(abs(t.start - seg.end), abs(t.end - seg.start)),
            default=None,
        )
        return [replace(seg, speaker=nearest.speaker if nearest else None)]
    # the speech of each piece: where turns change, within the cue
    pieces: list[tuple[float, float, str]] = []
    for t in inside:
        a, b = max(seg.start, t.start), min(seg.end, t.end)
        if pieces and pieces[-1][2] == t.speaker:
            pieces[-1] = (pieces[-1][0], b, t.speaker)
        else:
            pieces.append((a, b, t.speaker))
    # the first piece reaches back to the cue's start and the last to its end
    pieces[0] = (seg.start, pieces[0][1], pieces[0][2])
    pieces[-1] = (pieces[-1][0], seg.end, pieces[-1][2])
    for i in range(1, len(pieces)):  # close the gaps between turns at their middle
        mid = (pieces[i - 1][1] + pieces[i][0]) / 2
        pieces[i - 1] = (pieces[i - 1][0], mid, pieces[i - 1][2])
        pieces[i] = (mid, pieces[i][1], pieces[i][2])

    def speech(a: float, b: float) -> float:
        return _speech_between(regions, a, b) if regions else b - a

    # pieces with too little speech join their bigger neighbour
    while len(pieces) > 1:
        sizes = [speech(a, b) for a, b, _ in pieces]
        i = int(np.argmin(sizes))
        if sizes[i] >= options.min_split_s:
            break
        j = i - 1 if i == len(pieces) - 1 or (i > 0 and sizes[i - 1] >= sizes[i + 1]) else i + 1
        lo, hi = min(i, j), max(i, j)
        keep = pieces[j][2]
        pieces[lo : hi + 1] = [(pieces[lo][0], pieces[hi][1], keep)]
        # neighbours of one speaker join
        k = 0
        while k + 1 < len(pieces):
            if pieces[k][2] == pieces[k + 1][2]:
                pieces[k : k + 2] = [(pieces[k][0], pieces[k + 1][1], pieces[k][2])]
            else:
                k += 1
    if len(pieces) == 1:
        return [replace(seg, speaker=pieces[0][2])]
    out: list[Segment] = []
    rest = seg.text
    rest_start = seg.start
    for i, (_a, b, speaker) in enumerate(pieces):
        if i == len(pieces) - 1:
            out.append(Segment(rest_start, seg.end, rest, speaker))
            break
        total = speech(rest_start, seg.end) or 1.0
        head, tail = _split_text(rest, speech(rest_start, b) / total)
        if not head or not tail:  # too few words to cut: the whole rest goes to the larger
            continue
        out.append(Segment(rest_start, b, head, speaker))
        rest, rest_start = tail, b
    if len(out) == 1 and out[0].end != seg.end:
        out[0] = replace(out[0], end=seg.end)
    return out
