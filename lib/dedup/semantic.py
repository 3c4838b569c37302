"""Semantic dedup inside one cluster (NeMo Curator's SemDeDup): questions whose embeddings
have cosine similarity at or above a threshold ask the same thing, reworded; each group of
them (transitively) keeps one pair. MinHash finds copies of the text; this finds the
same question asked again in other words.

The encoder hardly sees what makes two similar questions different ("48 clips" and "84
clips", "P(X > Y)" and "P(X = Y)", "the total" and "in May"), so a close pair joins only when
a second signal agrees (same_question.py): when both pairs state a checkable final answer,
the answers must be one answer and the questions' numbers and order signs overlap by
Jaccard >= 0.5; otherwise the numbers and order signs must be equal. A group never holds two
answers that disagree, however it was chained.

Spark-free: the job clusters the embeddings with MLlib k-means and hands each cluster's
rows here. The similarity matrix is computed in row blocks of its upper triangle, so its
memory stays at `block x cluster size` floats however large a cluster grows (the matches
themselves are listed: a cluster of near-identical questions lists many).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from webinstruct.lib.dedup.same_question import MIN_OVERLAP, answers_agree, overlap

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


def collapse(vectors: np.ndarray, rank: list[tuple], threshold: float, facts: list | None = None,
             apart: list | None = None, answers: list | None = None,
             same_answer: Callable[[str, str], bool] | None = None) -> Collapsed:
    """`vectors`: unit rows; `rank`: per row a sort key, the smallest is the group's keeper
    (already published first, then quality; ties by id, so the choice is deterministic);
    `facts`: per row the question's numbers and order signs (same_question.facts_of);
    `answers`: per row its checkable final answer or None. Two close rows that both have an
    answer join when the answers agree (`same_answer`, default math-verify) and their facts
    overlap by at least MIN_OVERLAP (a rewording spells a number in words or drops a
    redundant one; two other problems with the same small answer share few numbers); other
    close rows join when their facts are equal. Two groups whose answers disagree never
    merge, so a pair without an answer cannot bridge them. `apart`: rows with the same value
    never join directly (two refiners' rewrites of one pair)."""
    n = len(vectors)
    parent = list(range(n))
    agree = answers_agree(same_answer)
    said = list(answers) if answers is not None else [None] * n  # per group root: the group's answer
    if n > 1:
        v = np.asarray(vectors, dtype=np.float32)
        for start in range(0, n, BLOCK):
            sims = v[start:start + BLOCK] @ v[start:].T  # the upper triangle and the diagonal block
            rows, cols = np.nonzero(np.triu(sims >= threshold, k=1))
            for r, c in zip(rows.tolist(), (cols + start).tolist()):
                i = start + r
                if apart is not None and apart[i] == apart[c]:
                    continue
                if answers is not None and answers[i] and answers[c]:
                    if facts is not None and overlap(facts[i], facts[c]) < MIN_OVERLAP:
                        continue
                elif facts is not None and facts[i] != facts[c]:
                    continue
                a, b = _find(parent, i), _find(parent, c)
                if a == b or (said[a] and said[b] and not agree(said[a], said[b])):
                    continue
                root, child = min(a, b), max(a, b)
                parent[child] = root
                said[root] = said[root] or said[child]
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


def nearest(vectors: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """The index of the nearest centroid (Euclidean, as k-means assigns) per row."""
    if len(vectors) == 0:
        return np.zeros(0, dtype=np.int64)
    d = (vectors ** 2).sum(1)[:, None] - 2 * vectors @ centroids.T + (centroids ** 2).sum(1)[None, :]
    return d.argmin(1)


def clusters_for(n: int, cluster_size: int, max_k: int) -> int:
    """k from the data size: about `cluster_size` questions per cluster."""
    return max(1, min(max_k, -(-n // max(1, cluster_size))))
