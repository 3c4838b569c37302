"""MinHash, LSH parameters and normalisation against datasketch on real page text."""

from __future__ import annotations

import random

import datasketch  # the reference implementation (dev extra)
import numpy as np
import pytest

from tests.conftest import shared
from tests.planted import load_pages
from webinstruct.lib.dedup.minhash import (
    MAX_HASH,
    LshParams,
    Sketcher,
    band_keys,
    optimal_param,
    shingle_hashes,
    shingle_set,
    shingles,
    signatures,
    text_set_bytes,
)
from webinstruct.lib.text_normalize import exact_hash, normalize


@pytest.fixture(scope="module")
def texts():
    pages = load_pages(shared("pages", "wceb2026"))
    return [p["main_content"] for p in pages[:40]]


def _datasketch(words: list[str], n: int, num_perm: int, seed: int) -> np.ndarray:
    m = datasketch.MinHash(num_perm=num_perm, seed=seed)
    m.update_batch([s.encode("utf-8") for s in shingles(words, n)])
    return m.hashvalues


@pytest.mark.parametrize("num_perm,seed", [(128, 1), (64, 7), (256, 42)])
def test_signatures_equal_datasketch(texts, num_perm, seed):
    word_lists = [normalize(t).split() for t in texts] + [[], ["short", "text"]]
    ours = signatures([shingle_hashes(shingles(w, 5)) for w in word_lists], num_perm, seed)
    for words, row in zip(word_lists, ours):
        np.testing.assert_array_equal(row, _datasketch(words, 5, num_perm, seed))
    assert (ours[-2] == MAX_HASH).all()  # no shingles: datasketch's empty MinHash


def test_signatures_do_not_depend_on_chunking(texts):
    hashes = [shingle_hashes(shingles(normalize(t).split(), 5)) for t in texts]
    whole = signatures(hashes, 128, 1)
    np.testing.assert_array_equal(whole, signatures(hashes, 128, 1, chunk=97))  # documents folded in slices
    np.testing.assert_array_equal(whole, np.vstack([signatures([h], 128, 1) for h in hashes]))


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.8, 0.9])
@pytest.mark.parametrize("num_perm", [64, 128, 256])
def test_optimal_param_equals_datasketch(threshold, num_perm):
    from datasketch.lsh import _optimal_param

    assert optimal_param(threshold, num_perm) == _optimal_param(threshold, num_perm, 0.5, 0.5)
    assert optimal_param(threshold, num_perm, 0.1, 0.9) == _optimal_param(threshold, num_perm, 0.1, 0.9)


def test_band_keys_match_only_on_equal_bands():
    rng = np.random.default_rng(3)
    sigs = rng.integers(0, 2**32, size=(3, 24), dtype=np.uint32)
    sigs[1, :6] = sigs[0, :6]  # doc 1 shares band 0 with doc 0 only
    sigs[2] = np.roll(sigs[0], 6)  # same values, other bands: must not collide
    keys = band_keys(sigs, 4, 6)
    assert keys.dtype == np.int64 and keys.shape == (3, 4)
    assert keys[0, 0] == keys[1, 0]
    assert not set(keys[0, 1:]) & set(keys[1, 1:])
    assert not set(keys[0]) & set(keys[2])


def test_lsh_finds_similar_pairs_like_datasketch_index(texts):
    """Our band keys give the same candidate pairs as datasketch's MinHashLSH index."""
    rng = random.Random(5)
    docs = {}
    for i, t in enumerate(texts[:20]):
        words = normalize(t).split()
        docs[f"d{i}"] = words
        edited = list(words)
        for j in rng.sample(range(len(words)), max(1, len(words) // 50)):
            edited[j] = "zzz"
        docs[f"e{i}"] = edited
    params = LshParams.for_threshold(0.8, 128)
    names = list(docs)
    sigs = signatures([shingle_hashes(shingles(docs[n], 5)) for n in names], 128, 1)
    keys = band_keys(sigs, params.bands, params.rows)
    ours = {(a, b) for i, a in enumerate(names) for j, b in enumerate(names) if i < j and set(keys[i]) & set(keys[j])}

    index = datasketch.MinHashLSH(threshold=0.8, num_perm=128)
    minhashes = {}
    for n in names:
        m = datasketch.MinHash(num_perm=128, seed=1)
        m.update_batch([s.encode() for s in shingles(docs[n], 5)])
        minhashes[n] = m
        index.insert(n, m)
    theirs = {tuple(sorted((n, o), key=names.index)) for n in names for o in index.query(minhashes[n]) if o != n}
    assert ours == theirs
    assert len(ours) >= 10  # the light edits are found


def test_normalize_rule():
    assert normalize("  Ｈｅｌｌｏ,\tWORLD!!  It's\u00a0x+1=2. ") == "hello world it s x+1=2"
    assert normalize("ﬁnal—answer") == "final answer"  # ligature folded, dash is punctuation
    assert exact_hash(normalize("A  b.")) == exact_hash(normalize("a b"))
    assert exact_hash(normalize("a b")) != exact_hash(normalize("a c"))


def test_sketcher_reuses_repeated_texts(texts):
    sketcher = Sketcher(LshParams.for_threshold(0.8, 128))
    batch = [texts[0], texts[1], texts[0].upper(), None, texts[0]]
    out = sketcher.sketch(batch)
    assert out.exact_hashes[0] == out.exact_hashes[2] == out.exact_hashes[4] != out.exact_hashes[1]
    np.testing.assert_array_equal(out.band_keys[0], out.band_keys[2])
    assert out.shingle_counts[3] == 0
    assert out.shingle_counts[0] == len(shingle_set(texts[0], 5))
    again = sketcher.sketch([texts[1]])  # from the memo: same answer as the first time
    np.testing.assert_array_equal(again.band_keys[0], out.band_keys[1])


def test_the_sketch_memo_is_bounded_in_bytes_not_entries():
    """Big pages fill a byte budget long before a count of entries would stop them."""
    params = LshParams(num_perm=128, bands=16, rows=8, ngram=5, seed=1)
    sketcher = Sketcher(params, keep_sets=True, memo_bytes=1 << 20)
    rng = random.Random(7)
    words = [f"w{i}" for i in range(50_000)]
    for _ in range(12):
        texts = [" ".join(rng.choice(words) for _ in range(20_000)) for _ in range(2)]  # ~80 KB of shingle set each
        out = sketcher.sketch(texts)
        assert sketcher.memo_used <= 1 << 20
    assert out.shingle_sets[0] == text_set_bytes(texts[0], 5)  # bounded, still right
    again = sketcher.sketch([texts[1]])
    assert again.band_keys.tolist() == out.band_keys[1:].tolist()
