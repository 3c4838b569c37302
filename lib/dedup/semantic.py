"""Semantic dedup inside one cluster (NeMo Curator's SemDeDup): questions whose embeddings
have cosine similarity at or above a threshold ask the same thing, reworded; each group of
them (transitively) keeps one pair. MinHash finds copies of the text; this finds the
same question asked again in other words.

Spark-free: the job clusters the embeddings with MLlib k-means and hands each cluster's
rows here. The similarity matrix is computed in row blocks of its upper triangle, so its
memory stays at `block x cluster size` floats however large a cluster grows (the matches
themselves are listed: a cluster of near-identical questions lists many).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from webinstruct.lib.qa.gate import DIGITS

BLOCK = 2048  # rows of the similarity matrix computed at a time


@dataclass(frozen=True)
class Collapsed:
    keeper: list[int]  # per row: the row that is kept for its group (itself when it is kept)
    similarity: list[float]  # per row: its cosine to the keeper (1.0 for a keeper)
    groups: int  # groups of two or more rows


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def collapse(vectors: np.ndarray, rank: list[tuple], threshold: float, numbers: list | None = None,
             apart: list | None = None) -> Collapsed:
    """`vectors`: unit rows; `rank`: per row a sort key, the smallest is the group's keeper
    (already published first, then quality; ties by id, so the choice is deterministic);
    `numbers`: per row the question's numbers: two rows join only when theirs are equal
    (an encoder hardly sees that 48 became 84, which makes another problem); `apart`: rows
    with the same value never join directly (two refiners' rewrites of one pair)."""
    n = len(vectors)
    parent = list(range(n))
    if n > 1:
        v = np.asarray(vectors, dtype=np.float32)
        for start in range(0, n, BLOCK):
            sims = v[start:start + BLOCK] @ v[start:].T  # the upper triangle and the diagonal block
            rows, cols = np.nonzero(np.triu(sims >= threshold, k=1))
            for r, c in zip(rows.tolist(), (cols + start).tolist()):
                i = start + r
                if (numbers is None or numbers[i] == numbers[c]) and (apart is None or apart[i] != apart[c]):
                    a, b = _find(parent, i), _find(parent, c)
                    if a != b:
                        parent[max(a, b)] = min(a, b)
    members: dict[int, list[int]] = {}
    for i in range(n):
        members.setdefault(_find(parent, i), []).append(i)
    keeper = list(range(n))
    for group in members.values():
        best = min(group, key=lambda i: rank[i])
        for i in group:
            keeper[i] = best
    similarity = [1.0 if keeper[i] == i else float(np.dot(vectors[i], vectors[keeper[i]])) for i in range(n)]
    return Collapsed(keeper, similarity, sum(len(g) > 1 for g in members.values()))


def numbers_of(question: str | None) -> str:
    """The question's distinct numbers, sorted ("1,000" and "1000" alike): rewordings keep them."""
    return " ".join(sorted({n.replace(",", "") for n in DIGITS.findall((question or "")[:20_000])}))


def nearest(vectors: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """The index of the nearest centroid (Euclidean, as k-means assigns) per row."""
    if len(vectors) == 0:
        return np.zeros(0, dtype=np.int64)
    d = (vectors ** 2).sum(1)[:, None] - 2 * vectors @ centroids.T + (centroids ** 2).sum(1)[None, :]
    return d.argmin(1)


def clusters_for(n: int, cluster_size: int, max_k: int) -> int:
    """k from the data size: about `cluster_size` questions per cluster."""
    return max(1, min(max_k, -(-n // max(1, cluster_size))))
