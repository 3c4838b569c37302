"""Tier-1 decontamination: word n-grams shared with benchmark questions.

Text is normalised with the rule dedup uses (lib/text_normalize.py: NFKC, lower case,
punctuation to spaces), split into words, and every run of `n` consecutive words (n = 10,
MAmmoTH2's setting) is hashed to 64 bits. Words are hashed once (blake2b, so every process
and machine agrees) and the n-gram hashes are combined in numpy, so a long page costs a
few vectorised passes, not one Python call per n-gram.

The index is two flat arrays, n-gram hashes sorted and the item each belongs to, small
enough to broadcast (about 12 bytes per benchmark n-gram: all built-in benchmarks fit in
tens of MB). A match reports the matching n-gram's words as evidence, with the item.
A question shorter than `n` words (but at least `min_short` words) is indexed whole: a
text matches it only by containing all of it, in order. Shorter ones are counted as too
short for this tier.

Content rule: a benchmark n-gram is indexed only if at least `min_content` of its words
are informative: content words (alphabetic, 3+ letters, not LaTeX markup, not a function
word) or maths tokens of 2+ characters with a digit or one of $^=+<> ("3m", "x+1").
Without it, real maths Q&A matched MATH, MMLU and TheoremQA items through boilerplate
alone ("begin pmatrix a b c d end pmatrix", "1 0 0 0 1 0 0 0 1", "is equal to the sum of
the squares of the"). A short question indexed whole needs two informative tokens, so
"what is the value of x" never matches a page. A formula-heavy item with no n-gram that
meets the rule keeps its most informative n-grams, so a verbatim copy is still caught;
items with no informative token at all are counted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from webinstruct.lib.text_normalize import normalize

_MULT = np.uint64(0x100000001B3)  # FNV-style odd multiplier; arithmetic wraps mod 2**64
_INV = np.uint64(pow(0x100000001B3, -1, 2**64))  # odd, so invertible mod 2**64
# markup words that survive normalisation ("\\begin{pmatrix}" -> "begin pmatrix")
LATEX_WORDS = frozenset("""
begin end frac dfrac tfrac sqrt cdot cdots ldots dots times div left right pmatrix bmatrix vmatrix matrix
array align aligned cases text textbf mathrm mathbf mathbb mathcal operatorname quad qquad hline over
underline overline boxed displaystyle infty alpha beta gamma delta theta lambda sigma omega pi phi
sin cos tan log ln lim sum int prod leq geq neq le ge approx equiv pm mp circ angle triangle degree
""".split())
FUNCTION_WORDS = frozenset("""
the and for are but not you all any can had her was one our out has his how its may who did get him she too use
that with have this will your from they been were said each which their there what when where then them these
than into some would could should about after many much more most only also such very does same other both
while find value following given number let suppose answer question true false correct
""".split())


_WORDS: dict[str, int] = {}  # word -> hash; words repeat, so most lookups skip blake2b
_WORDS_CAP = 1 << 20


def _word_hash(word: str) -> int:
    value = _WORDS.get(word)
    if value is None:
        if len(_WORDS) >= _WORDS_CAP:
            _WORDS.clear()
        value = _WORDS[word] = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
    return value


def _word_hashes(words: list[str]) -> np.ndarray:
    return np.fromiter(map(_word_hash, words), dtype=np.uint64, count=len(words))


def _content(word: str) -> bool:
    return len(word) >= 3 and word.isalpha() and word not in LATEX_WORDS and word not in FUNCTION_WORDS


_MATH = frozenset("0123456789$^=+<>")


def _informative(word: str) -> bool:
    """A content word, or a maths token of 2+ characters ("3m", "100", "x+1", "$a^2"); lone
    digits and letters are not ("1 0 0 1" is every identity matrix)."""
    return _content(word) or (len(word) >= 2 and any(c in _MATH for c in word))


def content_counts(words: list[str], n: int) -> np.ndarray:
    """Informative tokens (content words and maths tokens) in each window words[i : i + n]."""
    if len(words) < n:
        return np.zeros(0, dtype=np.int64)
    flags = np.array([_informative(w) for w in words], dtype=np.int64)
    sums = np.concatenate([[0], np.cumsum(flags)])
    return sums[n:] - sums[:-n]


def ngram_hashes(words: list[str], n: int) -> np.ndarray:
    """Hash of each window words[i : i + n] (len(words) - n + 1 values; none if shorter)."""
    if len(words) < n:
        return np.zeros(0, dtype=np.uint64)
    return _roll(_word_hashes(words), n)


_POWERS = {"up": np.ones(1, dtype=np.uint64), "down": np.ones(1, dtype=np.uint64)}


def _powers(count: int) -> tuple[np.ndarray, np.ndarray]:
    """MULT**j and MULT**-j (mod 2**64) for j < count, cached and grown as texts get longer."""
    if len(_POWERS["up"]) < count:
        size = max(count, 2 * len(_POWERS["up"]))
        with np.errstate(over="ignore"):
            _POWERS["up"] = np.cumprod(np.concatenate([[np.uint64(1)], np.full(size - 1, _MULT, dtype=np.uint64)]), dtype=np.uint64)
            _POWERS["down"] = np.cumprod(np.concatenate([[np.uint64(1)], np.full(size - 1, _INV, dtype=np.uint64)]), dtype=np.uint64)
    return _POWERS["up"], _POWERS["down"]


class _Prefix:
    """Window hashes of any size from one prefix sum: hash(i, n) = sum_k wh[i+k] * MULT**(n-1-k)
    = MULT**(i+n-1) * (S[i+n] - S[i]) with S[j] = sum_{m<j} wh[m] * MULT**-m, all mod 2**64."""

    def __init__(self, wh: np.ndarray):
        up, down = _powers(len(wh) + 1)
        self.up = up
        with np.errstate(over="ignore"):
            self.sums = np.concatenate([[np.uint64(0)], np.cumsum(wh * down[: len(wh)], dtype=np.uint64)])

    def windows(self, n: int) -> np.ndarray:
        count = len(self.sums) - n
        if count <= 0:
            return np.zeros(0, dtype=np.uint64)
        with np.errstate(over="ignore"):
            return self.up[n - 1 : n - 1 + count] * (self.sums[n:] - self.sums[:count])


def _roll(wh: np.ndarray, n: int) -> np.ndarray:
    return _Prefix(wh).windows(n)


@dataclass(frozen=True)
class Hit:
    benchmark: str
    item_id: str
    ngram: str  # the shared words, as evidence


class NgramIndex:
    def __init__(self, hashes: np.ndarray, owners: np.ndarray, items: list[tuple[str, str]], n: int, too_short: int,
                 no_content: int = 0, lengths: tuple[int, ...] = ()):
        self.hashes, self.owners, self.items, self.n, self.too_short = hashes, owners, items, n, too_short
        self.no_content = no_content
        self.lengths = tuple(sorted(set(lengths) | {n}))  # window sizes to look up: n and the whole short questions

    @classmethod
    def build(cls, items, n: int = 10, min_content: int = 3, min_short: int = 5) -> "NgramIndex":
        """`items`: objects with benchmark, item_id and question (lib.decontam.benchmarks.Item)."""
        keys, owners, names, too_short, no_content, lengths = [], [], [], 0, 0, set()
        for item in items:
            words = normalize(item.question).split()
            if len(words) < min(n, min_short):
                too_short += 1
                continue
            if len(words) < n:  # indexed whole
                if sum(map(_informative, words)) < 2:
                    no_content += 1
                    continue
                h = ngram_hashes(words, len(words))
                lengths.add(len(words))
            else:
                h = ngram_hashes(words, n)
                if min_content > 0:
                    counts = content_counts(words, n)
                    keep = counts >= min_content
                    if not keep.any() and counts.max() >= 1:  # a formula-heavy item: its most informative n-grams
                        keep = counts == counts.max()
                    h = np.unique(h[keep])
                else:
                    h = np.unique(h)
            if not len(h):
                no_content += 1
                continue
            keys.append(h)
            owners.append(np.full(len(h), len(names), dtype=np.int32))
            names.append((item.benchmark, item.item_id))
        hashes = np.concatenate(keys) if keys else np.zeros(0, dtype=np.uint64)
        owner = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int32)
        order = np.argsort(hashes, kind="stable")
        return cls(hashes[order], owner[order], names, n, too_short, no_content, tuple(lengths))

    def __len__(self) -> int:
        return len(self.hashes)

    def match(self, text: str | None, limit: int = 50) -> list[Hit]:
        """Benchmark items sharing an n-gram with `text`, one hit per item (first n-gram in
        the text), at most `limit`."""
        words = normalize(text or "").split()
        if not len(self.hashes):
            return []
        hits, seen = [], set()
        if len(words) < self.lengths[0]:
            return []
        prefix = _Prefix(_word_hashes(words))
        parts = [prefix.windows(size) for size in self.lengths]  # one lookup for every window size
        h = np.concatenate(parts)
        sizes = np.concatenate([np.full(len(p), size) for p, size in zip(parts, self.lengths)])
        starts = np.concatenate([np.arange(len(p)) for p in parts])
        left = np.searchsorted(self.hashes, h, side="left")
        found = np.nonzero(self.hashes[np.minimum(left, len(self.hashes) - 1)] == h)[0]
        hits, seen = [], set()
        for pos in found:
            k = left[pos]
            while k < len(self.hashes) and self.hashes[k] == h[pos]:
                owner = self.owners[k]
                k += 1
                if owner in seen:
                    continue
                seen.add(owner)
                benchmark, item_id = self.items[owner]
                start, size = int(starts[pos]), int(sizes[pos])
                hits.append(Hit(benchmark, item_id, " ".join(words[start : start + size])))
                if len(hits) >= limit:
                    return hits
        return hits
