"""Semantic dedup inside one cluster (NeMo Curator's SemDeDup): questions whose embeddings
have cosine similarity at or above a threshold ask the same thing, reworded; each group of
them (transitively) keeps one pair. MinHash finds copies of the text; this finds the
same question asked again in other words.

The encoder hardly sees what makes two similar questions different ("48 clips" and "84
clips", "spin left" and "spin right", "the total" and "in May"), so a close pair joins only
when a second signal agrees: their checkable final answers are the same answer (math-verify)
when both pairs state one, else the question's numbers (digits and number words) and
relation signs are the same. A rewording keeps the answer; a near miss that asks another thing gets another one.

Spark-free: the job clusters the embeddings with MLlib k-means and hands each cluster's
rows here. The similarity matrix is computed in row blocks of its upper triangle, so its
memory stays at `block x cluster size` floats however large a cluster grows (the matches
themselves are listed: a cluster of near-identical questions lists many).
"""

from __future__ import annotations

from dataclasses import dataclass

import re
from typing import Callable

import numpy as np

from webinstruct.lib.qa.answers import GSM, STATED, boxed, equivalent, normalise
from webinstruct.lib.qa.gate import DIGITS

BLOCK = 2048  # rows of the similarity matrix computed at a time
MIN_OVERLAP = 0.5  # facts two rows with the same answer must share (bench.semdedup: GSM8K train)


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
    `facts`: per row the question's numbers and order signs (facts_of); `answers`: per row
    its checkable final answer or None. Two rows that both have an answer join when
    `same_answer` (default: math-verify) says the answers agree and at least MIN_OVERLAP of
    their facts are shared (a rewording spells a number in words or drops a redundant one;
    two other problems with the same small answer share few numbers); other rows join when
    their facts are equal.
    `apart`: rows with the same value never join directly (two refiners' rewrites of one pair)."""
    n = len(vectors)
    parent = list(range(n))
    agree = _answers_agree(same_answer or equivalent)
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
                    if not agree(answers[i], answers[c]) or (facts is not None and overlap(facts[i], facts[c]) < MIN_OVERLAP):
                        continue
                elif facts is not None and facts[i] != facts[c]:
                    continue
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


def overlap(a: str, b: str) -> float:
    """Jaccard overlap of two facts_of strings (1.0 for two empty ones)."""
    x, y = set(a.split()), set(b.split())
    return len(x & y) / len(x | y) if x or y else 1.0


def _answers_agree(same: Callable[[str, str], bool]) -> Callable[[str, str], bool]:
    """`same`, asked once per pair of answers (a cluster of one question's rewordings
    compares the same two answers many times)."""
    seen: dict[tuple[str, str], bool] = {}

    def fn(a: str, b: str) -> bool:
        key = (a, b) if a <= b else (b, a)
        if key not in seen:
            seen[key] = a == b or same(a, b)
        return seen[key]

    return fn


# "one" and "zero" are left out: "which one", "no one" and "one of them" count nothing
UNITS = {w: i for i, w in enumerate("_ _ two three four five six seven eight nine ten eleven twelve thirteen "
                                     "fourteen fifteen sixteen seventeen eighteen nineteen".split()) if w != "_"}
TENS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)}
SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}
TIMES = {"twice": 2, "double": 2, "doubled": 2, "thrice": 3, "triple": 3, "tripled": 3, "half": 0.5}
NUMBER_WORD = "|".join([*UNITS, *TENS, *SCALES])
# relation signs as written in text or TeX, read whole ("<=" is one sign, "->" an arrow)
RELATIONS = re.compile(r"<=>|<->|->|=>|<-|<=|>=|!=|==|[<>=≤≥≠]|\\(?:leq?|geq?|neq?|lt|gt)(?![A-Za-z])")
RELATION = {"<=": "≤", "\\le": "≤", "\\leq": "≤", ">=": "≥", "\\ge": "≥", "\\geq": "≥", "!=": "≠", "\\ne": "≠",
            "\\neq": "≠", "==": "=", "\\lt": "<", "\\gt": ">"}
NUMBER_WORDS = re.compile(rf"\b(?:{NUMBER_WORD})(?:(?:[\s-]|\s+and\s+)(?:{NUMBER_WORD}))*\b|\b(?:{'|'.join(TIMES)})\b", re.I)


def _words_value(words: str) -> float:
    """"two hundred and forty-five" -> 245; "twice" -> 2."""
    lower = words.lower()
    if lower in TIMES:
        return TIMES[lower]
    total = current = 0
    for w in re.split(r"[\s-]+", lower):
        if w in UNITS:
            current += UNITS[w]
        elif w in TENS:
            current += TENS[w]
        elif w == "hundred":
            current = max(current, 1) * 100
        elif w in SCALES:
            total += max(current, 1) * SCALES[w]
            current = 0
    return total + current


def _plain(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def facts_of(question: str | None) -> str:
    """What the encoder hardly sees and a rewording keeps: the question's distinct numbers,
    in digits or words ("1,000" and "1000", "three" and "3", "twice" and "2" alike), and its
    order signs (<, >, <=, >=, !=: "P(X > Y)" is not "P(X = Y)"), sorted."""
    text = (question or "")[:20_000]
    found = {n.replace(",", "") for n in DIGITS.findall(text)}
    found |= {_plain(_words_value(m.group(0))) for m in NUMBER_WORDS.finditer(text)}
    for m in RELATIONS.finditer(text):
        sign = m.group(0)
        if sign in ("<=>", "<->", "->", "=>", "<-", "=", "=="):  # "=" is said in words as often ("x is 3")
            continue
        found.add(RELATION.get(sign, sign))
    return " ".join(sorted(found))


MAX_CHECKABLE_CHARS = 60


def checkable_answer(answer: str | None) -> str | None:
    """The final answer a solution states in a form made to be checked (\\boxed{}, "#### x",
    "the answer is x" with a short mathematical x), else None: a forum reply's last number
    is as often a year or a version as a result, and comparing it would keep rewordings apart."""
    text = (answer or "")[-20_000:]
    found = boxed(text)
    if found is None:
        match = GSM.search(text)
        found = match.group(1) if match else None
    if found is None:
        stated = list(STATED.finditer(text))
        value = stated[-1].group(1).strip().strip("$ ") if stated else ""
        found = value if re.search(r"[\d\\]", value) and len(value.split()) <= 3 else None
    found = (found or "").strip()
    return found if found and len(found) <= MAX_CHECKABLE_CHARS and normalise(found) else None


def nearest(vectors: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """The index of the nearest centroid (Euclidean, as k-means assigns) per row."""
    if len(vectors) == 0:
        return np.zeros(0, dtype=np.int64)
    d = (vectors ** 2).sum(1)[:, None] - 2 * vectors @ centroids.T + (centroids ** 2).sum(1)[None, :]
    return d.argmin(1)


def clusters_for(n: int, cluster_size: int, max_k: int) -> int:
    """k from the data size: about `cluster_size` questions per cluster."""
    return max(1, min(max_k, -(-n // max(1, cluster_size))))
