"""Average-linkage (UPGMA) clustering on cosine distance, and its cut into at most k clusters.

What ``scipy.cluster.hierarchy`` gives for ``fcluster(linkage(pdist(x, "cosine"),
"average"), k, "maxclust")``, in numpy: the same nearest-neighbour-chain algorithm, the
same tie-breaking and the same linkage matrix (tests/test_linkage.py compares both on
one distance matrix, merge by merge). scipy is not used at run time because its
hierarchy module imports scipy.spatial, linalg (with its own OpenBLAS), sparse and
special, and transformers then imports scipy.optimize: 62 MB of the desktop bundle
for these three functions.
"""

from __future__ import annotations

import numpy as np


def cosine_distances(emb: np.ndarray) -> np.ndarray:
    """The square matrix of cosine distances (0 to 2) between the rows, in float64."""
    x = np.array(emb, dtype=np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True).clip(1e-300)
    dist = x @ x.T
    np.subtract(1.0, dist, out=dist)
    return np.clip(dist, 0.0, 2.0, out=dist)


def average_linkage(dist: np.ndarray) -> np.ndarray:
    """The linkage matrix of average linkage over a square distance matrix (overwritten).

    Rows ``(a, b, height, size)`` in scipy's format: ``a < b`` are the merged clusters
    (0..n-1 the points, n + i the cluster of row i), sorted by height. Memory: the one
    n-by-n matrix (scipy holds two condensed copies, the same).
    """
    n = len(dist)
    if dist.shape != (n, n):
        raise ValueError(f"a square distance matrix is needed, not {dist.shape}")
    if n < 2:
        return np.empty((0, 4))
    d = dist
    np.fill_diagonal(d, np.inf)  # gone clusters get inf rows and columns too
    size = np.ones(n)
    merges = np.empty((n - 1, 4))
    chain: list[int] = []
    for k in range(n - 1):
        if not chain:
            chain.append(int(np.flatnonzero(size)[0]))
        # Follow nearest neighbours until two are each other's; the previous link of
        # the chain wins a tie (else the chain could cycle), then the lowest index.
        while True:
            x = chain[-1]
            row = d[x]
            y = int(np.argmin(row))
            if len(chain) > 1:
                if not row[y] < row[chain[-2]]:
                    y = chain[-2]
                if y == chain[-2]:
                    break
            chain.append(y)
        del chain[-2:]
        height = d[x, y]
        x, y = min(x, y), max(x, y)
        nx, ny = size[x], size[y]
        merges[k] = x, y, height, nx + ny
        # Lance-Williams for average linkage; the merged cluster takes y's place.
        new = (nx * d[x] + ny * d[y]) / (nx + ny)
        d[y] = new
        d[:, y] = new
        d[x] = np.inf
        d[:, x] = np.inf
        size[x], size[y] = 0.0, nx + ny
    merges = merges[np.argsort(merges[:, 2], kind="mergesort")]
    # Name the clusters as scipy does: the cluster made by row i is n + i.
    parent = np.arange(2 * n - 1)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    for i, (a, b, _height, _size) in enumerate(merges):
        ra, rb = root(int(a)), root(int(b))
        parent[ra] = parent[rb] = n + i
        merges[i, 0], merges[i, 1] = min(ra, rb), max(ra, rb)
    return merges


def maxclust(tree: np.ndarray, k: int) -> np.ndarray:
    """Flat clusters 1, 2, ... (numbered by first point) from cutting ``tree`` into at most k.

    scipy's ``fcluster(tree, k, "maxclust")``: the lowest cut, at the largest height
    within each cluster, that leaves at most k clusters; merges at a tied height go
    together, so a tie can leave fewer than k.
    """
    n = len(tree) + 1
    highest = np.empty(n - 1)  # the largest height within each row's cluster
    for i, (a, b, height, _size) in enumerate(tree):
        highest[i] = max(
            height,
            highest[int(a) - n] if a >= n else -np.inf,
            highest[int(b) - n] if b >= n else -np.inf,
        )
    cut = np.sort(highest)[n - k - 1] if k < n else -np.inf
    parent = np.arange(2 * n - 1)
    for i in np.flatnonzero(highest <= cut):
        parent[int(tree[i, 0])] = parent[int(tree[i, 1])] = n + i
    # A cluster is always named after the points and clusters it holds: from the top
    # down, each node takes the root of its parent.
    for node in range(2 * n - 3, -1, -1):
        parent[node] = parent[parent[node]]
    names: dict[int, int] = {}
    return np.array([names.setdefault(int(r), len(names) + 1) for r in parent[:n]])
