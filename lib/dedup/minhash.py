"""MinHash signatures and LSH band keys, vectorised over a batch of documents.

The scheme is datasketch's default (`affine32`, datasketch >= 2.0): each shingle is hashed
with the first 4 bytes of its SHA-1 (little endian), mixed with the 32-bit MurmurHash3
finaliser, then permuted as `a * h + b mod 2**32` with odd `a`; the permutation parameters
come from `numpy.random.RandomState(seed)` exactly as datasketch draws them. A signature
computed here therefore equals `datasketch.MinHash(num_perm, seed).update_batch(...)`
over the same shingles, so signatures can be stored, shared and compared with other
tools. Where this module is faster is in doing a whole batch of documents in one numpy
pass instead of one Python object per document.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from webinstruct.lib.text_normalize import exact_hash, normalize

_U32 = np.uint32
_U64 = np.uint64
MAX_HASH = np.uint32(0xFFFFFFFF)


# ---------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------
def _integral(f, lo: float, hi: float) -> float:
    """Gauss-Legendre quadrature; the integrands are smooth polynomials in s."""
    nodes, weights = _gauss_legendre()
    x = 0.5 * (hi - lo) * nodes + 0.5 * (hi + lo)
    return float(0.5 * (hi - lo) * np.sum(weights * f(x)))


@lru_cache(maxsize=1)
def _gauss_legendre():
    return np.polynomial.legendre.leggauss(96)


def optimal_param(threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) minimising the weighted false positive and false negative areas
    under the LSH S-curve, searched the way datasketch's `_optimal_param` does."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    best, opt = float("inf"), (0, 0)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = _integral(lambda s: 1 - (1 - s**r) ** b, 0.0, threshold)
            fn = _integral(lambda s: (1 - s**r) ** b, threshold, 1.0)
            err = fp * fp_weight + fn * fn_weight
            if err < best:
                best, opt = err, (b, r)
    return opt


@dataclass(frozen=True)
class LshParams:
    num_perm: int = 128
    bands: int = 0
    rows: int = 0
    ngram: int = 5
    seed: int = 1

    @classmethod
    def for_threshold(cls, threshold: float, num_perm: int = 128, ngram: int = 5, seed: int = 1) -> "LshParams":
        bands, rows = optimal_param(threshold, num_perm)
        return cls(num_perm=num_perm, bands=bands, rows=rows, ngram=ngram, seed=seed)

    def __post_init__(self):
        if self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands x rows = {self.bands * self.rows} exceeds num_perm {self.num_perm}")


@lru_cache(maxsize=16)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) as datasketch draws them for the affine32 scheme."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=_U32) * _U32(2) + _U32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=_U32)
    return a, b


# ---------------------------------------------------------------------------------------
# Shingles
# ---------------------------------------------------------------------------------------
def shingles(words: list[str], n: int) -> list[str]:
    """Word n-grams joined by single spaces; a text shorter than n words is one shingle."""
    if not words:
        return []
    if len(words) <= n:
        return [" ".join(words)]
    return [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]


def shingle_hashes(items: list[str]) -> np.ndarray:
    """SHA-1 based 32-bit hashes (datasketch's `sha1_hash32`), one per shingle."""
    sha1 = hashlib.sha1
    raw = b"".join([sha1(s.encode("utf-8")).digest()[:4] for s in items])
    return np.frombuffer(raw, dtype="<u4").astype(_U32)


# MurmurHash3 finalisers (shifts and multipliers), an avalanching bijection per width.
_FMIX = {
    32: (_U32, 16, 0x85EBCA6B, 13, 0xC2B2AE35, 16),
    64: (_U64, 33, 0xFF51AFD7ED558CCD, 33, 0xC4CEB9FE1A85EC53, 33),
}


def _fmix(h: np.ndarray, width: int) -> np.ndarray:
    t, s1, m1, s2, m2, s3 = _FMIX[width]
    h = h ^ (h >> t(s1))
    h = h * t(m1)
    h = h ^ (h >> t(s2))
    h = h * t(m2)
    return h ^ (h >> t(s3))


# ---------------------------------------------------------------------------------------
# Signatures
# ---------------------------------------------------------------------------------------
def signatures(hash_lists: list[np.ndarray], num_perm: int, seed: int, chunk: int = 2048) -> np.ndarray:
    """(documents x num_perm) uint32 MinHash matrix. A document without shingles gets
    MAX_HASH everywhere (datasketch's empty MinHash).

    Each document's shingles are permuted in slices of `chunk` rows into one reused
    buffer (in place, cache-sized), then reduced with a column minimum: about ten times
    faster than one big matrix and `minimum.reduceat`, and memory stays at
    chunk x num_perm x 4 bytes whatever the document size.
    """
    a, b = permutations(num_perm, seed)
    out = np.full((len(hash_lists), num_perm), MAX_HASH, dtype=_U32)
    buf = np.empty((chunk, num_perm), dtype=_U32)
    with np.errstate(over="ignore"):
        for i, hashes in enumerate(hash_lists):
            if len(hashes) == 0:
                continue
            hv = _fmix(np.asarray(hashes, dtype=_U32), 32)
            acc = out[i]
            for lo in range(0, hv.size, chunk):
                part = hv[lo : lo + chunk]
                block = buf[: part.size]
                np.multiply(part[:, None], a[None, :], out=block)
                np.add(block, b[None, :], out=block)
                np.minimum(acc, block.min(axis=0), out=acc)
    return out


# ---------------------------------------------------------------------------------------
# Band keys
# ---------------------------------------------------------------------------------------
def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(documents x bands) int64: one 64-bit key per band, the band index folded in so
    equal values in different bands never share a key. Uses the first bands x rows
    permutations, as datasketch's MinHashLSH does."""
    n = sigs.shape[0]
    keys = np.empty((n, bands), dtype=_U64)
    with np.errstate(over="ignore"):
        for band in range(bands):
            h = np.full(n, _U64(0x9E3779B97F4A7C15) * _U64(band + 1), dtype=_U64)
            for j in range(band * rows, (band + 1) * rows):
                h = _fmix(h ^ sigs[:, j].astype(_U64), 64) + _U64(j)
            keys[:, band] = h
    return keys.view(np.int64)


def jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


# ---------------------------------------------------------------------------------------
# Whole documents
# ---------------------------------------------------------------------------------------
@dataclass
class Sketches:
    exact_hashes: list[str]
    shingle_counts: np.ndarray  # distinct shingles per document
    band_keys: np.ndarray  # (documents x bands) int64
    shingle_sets: list[bytes] | None = None  # sorted distinct shingle hashes (uint32 LE), when kept


def set_bytes(hashes: np.ndarray) -> bytes:
    """A shingle set as sorted distinct 32-bit hashes: Jaccard on these equals Jaccard on the
    shingle strings up to 32-bit collisions (about 1 in 4 billion per pair of shingles)."""
    return np.unique(hashes).astype("<u4").tobytes()


def set_jaccard(a: bytes, b: bytes) -> float:
    x, y = np.frombuffer(a, dtype="<u4"), np.frombuffer(b, dtype="<u4")
    if x.size == 0 and y.size == 0:
        return 1.0
    inter = np.intersect1d(x, y, assume_unique=True).size
    return inter / (x.size + y.size - inter)


MEMO_ENTRY_BYTES = 200  # dict slot, hash string, tuple and array headers of one memo entry


class Sketcher:
    """Exact hash and band keys for batches of texts. Texts seen before in this process
    (by exact hash) reuse their keys: a page repeated many times is shingled once. The
    memo is bounded in bytes, not entries: one shingle set can be megabytes."""

    def __init__(self, params: LshParams, keep_sets: bool = False, memo_bytes: int = 128 << 20):
        self.params = params
        self.keep_sets = keep_sets  # also return each shingle set, for pair verification
        self.memo_bytes = memo_bytes
        self._memo: dict[str, tuple[int, np.ndarray, bytes | None]] = {}
        self._memo_used = 0

    def sketch(self, texts: list[str | None]) -> Sketches:
        p = self.params
        hashes, counts = [], np.zeros(len(texts), dtype=np.int64)
        keys = np.zeros((len(texts), p.bands), dtype=np.int64)
        sets: list[bytes | None] = [None] * len(texts)
        todo, todo_hashes = [], []
        pending: dict[str, int] = {}  # exact hash -> first index in this batch
        copies: list[tuple[int, int]] = []  # (index, index of the same text in this batch)
        for i, text in enumerate(texts):
            norm = normalize(text or "")
            h = exact_hash(norm)
            hashes.append(h)
            if h in self._memo:
                counts[i], keys[i], sets[i] = self._memo[h]
            elif h in pending:
                copies.append((i, pending[h]))
            else:
                pending[h] = i
                todo.append(i)
                todo_hashes.append(shingle_hashes(list(set(shingles(norm.split(), p.ngram)))))
        if todo:
            sigs = signatures(todo_hashes, p.num_perm, p.seed)
            fresh = band_keys(sigs, p.bands, p.rows)
            for j, i in enumerate(todo):
                counts[i], keys[i] = len(todo_hashes[j]), fresh[j]
                if self.keep_sets:
                    sets[i] = set_bytes(todo_hashes[j])
                self._remember(hashes[i], (counts[i], fresh[j], sets[i]))
        for i, src in copies:
            counts[i], keys[i], sets[i] = counts[src], keys[src], sets[src]
        return Sketches(hashes, counts, keys, sets if self.keep_sets else None)

    def _remember(self, key: str, entry: tuple) -> None:
        size = _entry_bytes(entry)
        if size > self.memo_bytes:
            return  # larger than the whole memo: not kept
        if self._memo_used + size > self.memo_bytes:
            self._memo.clear()
            self._memo_used = 0
        self._memo[key] = entry
        self._memo_used += size

    @property
    def memo_used(self) -> int:
        """Bytes the memo holds now (at most memo_bytes)."""
        return self._memo_used


def _entry_bytes(entry: tuple) -> int:
    return MEMO_ENTRY_BYTES + entry[1].nbytes + (len(entry[2]) if entry[2] is not None else 0)


def text_set_bytes(text: str | None, ngram: int) -> bytes:
    return set_bytes(shingle_hashes(list(set(shingles(normalize(text or "").split(), ngram)))))


def shingle_set(text: str | None, ngram: int) -> set[str]:
    """The set the Jaccard threshold is about: distinct word n-grams of the normalised text."""
    return set(shingles(normalize(text or "").split(), ngram))
