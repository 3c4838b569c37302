"""Tier-1 decontamination: word n-grams shared with benchmark questions.

Text is normalised with the rule dedup uses (lib/text_normalize.py: NFKC, lower case,
punctuation to spaces), split into words, and every run of `n` consecutive words (n = 10,
MAmmoTH2's setting) is hashed to 64 bits. Words are hashed once (blake2b, so every process
and machine agrees) and the n-gram hashes are combined in numpy, so a long page costs a
few vectorised passes, not one Python call per n-gram.

The index is two flat arrays, n-gram hashes sorted and the item each belongs to, small
enough to broadcast (about 12 bytes per benchmark n-gram: all built-in benchmarks fit in
tens of MB). A match reports the matching n-gram's words as evidence, with the item.
Questions shorter than `n` words cannot match at this tier and are counted as such.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from lib.text_normalize import normalize

_MULT = np.uint64(0x100000001B3)  # FNV-style odd multiplier; arithmetic wraps mod 2**64


def _word_hashes(words: list[str]) -> np.ndarray:
    return np.array([int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "little") for w in words],
                    dtype=np.uint64)


def ngram_hashes(words: list[str], n: int) -> np.ndarray:
    """Hash of each window words[i : i + n] (len(words) - n + 1 values; none if shorter)."""
    if len(words) < n:
        return np.zeros(0, dtype=np.uint64)
    wh = _word_hashes(words)
    count = len(words) - n + 1
    out = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):  # h = sum_k wh[i + k] * MULT**(n - 1 - k), wrapping
            out = out * _MULT + wh[k : k + count]
    return out


@dataclass(frozen=True)
class Hit:
    benchmark: str
    item_id: str
    ngram: str  # the shared words, as evidence


class NgramIndex:
    def __init__(self, hashes: np.ndarray, owners: np.ndarray, items: list[tuple[str, str]], n: int, too_short: int):
        self.hashes, self.owners, self.items, self.n, self.too_short = hashes, owners, items, n, too_short

    @classmethod
    def build(cls, items, n: int = 10) -> "NgramIndex":
        """`items`: objects with benchmark, item_id and question (lib.benchmarks.Item)."""
        keys, owners, names, too_short = [], [], [], 0
        for item in items:
            words = normalize(item.question).split()
            if len(words) < n:
                too_short += 1
                continue
            h = np.unique(ngram_hashes(words, n))
            keys.append(h)
            owners.append(np.full(len(h), len(names), dtype=np.int32))
            names.append((item.benchmark, item.item_id))
        hashes = np.concatenate(keys) if keys else np.zeros(0, dtype=np.uint64)
        owner = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int32)
        order = np.argsort(hashes, kind="stable")
        return cls(hashes[order], owner[order], names, n, too_short)

    def __len__(self) -> int:
        return len(self.hashes)

    def match(self, text: str | None, limit: int = 50) -> list[Hit]:
        """Benchmark items sharing an n-gram with `text`, one hit per item (first n-gram in
        the text), at most `limit`."""
        words = normalize(text or "").split()
        h = ngram_hashes(words, self.n)
        if not len(h) or not len(self.hashes):
            return []
        left = np.searchsorted(self.hashes, h, side="left")
        right = np.searchsorted(self.hashes, h, side="right")
        found = np.nonzero(right > left)[0]
        hits, seen = [], set()
        for pos in found:
            for owner in self.owners[left[pos] : right[pos]]:
                if owner in seen:
                    continue
                seen.add(owner)
                benchmark, item_id = self.items[owner]
                hits.append(Hit(benchmark, item_id, " ".join(words[pos : pos + self.n])))
                if len(hits) >= limit:
                    return hits
        return hits
