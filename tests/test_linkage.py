"""The speakers' clustering (app/core/speakers/linkage.py) against scipy's, which it
replaces at run time: the same linkage matrix merge by merge on one distance matrix,
ties included, and the same flat clusters for every count."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.speakers.linkage import average_linkage, cosine_distances, maxclust

hierarchy = pytest.importorskip("scipy.cluster.hierarchy")
distance = pytest.importorskip("scipy.spatial.distance")


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = set(zip(a.tolist(), b.tolist(), strict=True))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def voices(rng: np.random.Generator, n: int, speakers: int, dim: int = 16) -> np.ndarray:
    """Points around a few directions, like voice embeddings of a conversation."""
    centres = rng.normal(size=(speakers, dim))
    return centres[rng.integers(0, speakers, n)] + 0.6 * rng.normal(size=(n, dim))


@pytest.mark.parametrize("n", [2, 3, 7, 40, 150])
def test_average_linkage_and_maxclust_are_scipys(n: int) -> None:
    rng = np.random.default_rng(n)
    for speakers in (1, 3):
        condensed = distance.pdist(voices(rng, n, speakers), "cosine")
        expected = hierarchy.linkage(condensed, "average")
        tree = average_linkage(distance.squareform(condensed))
        np.testing.assert_array_equal(tree, expected)
        for k in range(1, n + 2):
            labels = maxclust(tree, k)
            assert same_partition(labels, hierarchy.fcluster(expected, k, "maxclust")), k
            assert len(set(labels.tolist())) == min(k, n)
            assert labels[0] == 1 and set(labels.tolist()) == set(range(1, labels.max() + 1))


def test_ties_merge_and_cut_as_scipy_does() -> None:
    """Equal distances everywhere (points on a grid): scipy's tie-breaking, and a cut at a
    tied height that leaves fewer clusters than asked."""
    rng = np.random.default_rng(7)
    points = rng.integers(0, 4, size=(30, 1)).astype(float)
    condensed = distance.pdist(points)
    expected = hierarchy.linkage(condensed, "average")
    tree = average_linkage(distance.squareform(condensed))
    np.testing.assert_array_equal(tree, expected)
    counts = []
    for k in range(1, 32):
        labels = maxclust(tree, k)
        assert same_partition(labels, hierarchy.fcluster(expected, k, "maxclust")), k
        counts.append(len(set(labels.tolist())))
    assert counts[:5] == [1, 2, 2, 4, 4]  # duplicates at distance 0, then the 4 grid values
    line = np.array([[0.0], [1.0], [2.0], [3.0]])
    assert maxclust(average_linkage(distance.squareform(distance.pdist(line))), 3).tolist() == [
        1,
        1,
        2,
        2,
    ]


def test_cosine_distances_are_pdists_and_symmetric() -> None:
    emb = voices(np.random.default_rng(3), 60, 3, dim=256).astype(np.float32)
    dist = cosine_distances(emb)
    assert dist.dtype == np.float64 and dist.shape == (60, 60)
    np.testing.assert_array_equal(dist, dist.T)  # the chain reads rows only
    np.testing.assert_allclose(np.diag(dist), 0.0, atol=1e-12)
    np.testing.assert_allclose(
        distance.squareform(dist, checks=False),
        distance.pdist(emb.astype(np.float64), "cosine"),
        atol=1e-12,
    )
    assert dist.min() >= 0.0 and dist.max() <= 2.0
    # from embeddings to clusters, both ways give the same speakers
    expected = hierarchy.linkage(distance.pdist(emb.astype(np.float64), "cosine"), "average")
    tree = average_linkage(dist)
    for k in range(1, 8):
        assert same_partition(maxclust(tree, k), hierarchy.fcluster(expected, k, "maxclust"))


def test_one_point_and_bad_input() -> None:
    assert average_linkage(np.zeros((1, 1))).shape == (0, 4)
    assert maxclust(np.empty((0, 4)), 1).tolist() == [1]
    with pytest.raises(ValueError, match="square"):
        average_linkage(np.zeros((3, 2)))
