"""Tier-1 n-gram matching on real benchmark items: verbatim and reformatted copies are
caught with their evidence, unrelated real Q&A is not."""

from __future__ import annotations

import json
import random

import numpy as np

from tests.conftest import shared
from webinstruct.lib.decontam.benchmarks import Item, load_builtin
from webinstruct.lib.decontam.ngram_index import NgramIndex, ngram_hashes
from webinstruct.lib.text_normalize import normalize


def test_ngram_hashes_equal_hashing_each_window_alone():
    words = "a b c d e f g h i j k l".split()
    rolled = ngram_hashes(words, 4)
    assert len(rolled) == 9 and len(set(rolled.tolist())) == 9
    assert all(ngram_hashes(words[i : i + 4], 4)[0] == rolled[i] for i in range(9))
    assert len(ngram_hashes(words[:3], 4)) == 0


def test_real_gsm8k_copies_are_caught_and_stackexchange_pairs_are_not():
    test = list(load_builtin("gsm8k", shared("benchmarks")))
    index = NgramIndex.build(test, n=10)
    rng = random.Random(5)
    sample = rng.sample(test, 50)
    for item in sample:  # verbatim, and re-cased / re-punctuated inside a page
        page = "Homework help forum. Posted by a student:\n" + item.question.upper().replace(".", " ;") + "\nThanks!"
        hits = index.match(page)
        assert ("gsm8k", item.item_id) in {(h.benchmark, h.item_id) for h in hits}
        hit = next(h for h in hits if h.item_id == item.item_id)
        assert len(hit.ngram.split()) == 10 and hit.ngram in normalize(item.question)  # evidence: the shared words
    qa = [json.loads(line) for line in open(shared("qa", "stackmathqa_700.jsonl"), encoding="utf-8")]
    flagged = sum(bool(index.match(r["Q"] + "\n" + r["A"])) for r in qa)
    assert flagged <= 2  # real, unrelated Q&A shares no 10-gram with GSM8K test questions
    train = [json.loads(line) for line in open(shared("benchmarks", "gsm8k", "train.jsonl"), encoding="utf-8")]
    train_flagged = sum(bool(index.match(r["question"])) for r in train[:1000])
    assert train_flagged / 1000 < 0.02


def test_short_questions_are_counted_and_shared_ngrams_report_every_item():
    items = [Item("b", "test", "1", "one two three four five six", ""), Item("b", "test", "2", "too short", ""),
             Item("c", "test", "9", "zero one two three four five six seven", "")]
    index = NgramIndex.build(items, n=6)
    assert index.too_short == 1
    hits = index.match("xx one two three four five six yy")
    assert {(h.benchmark, h.item_id) for h in hits} == {("b", "1"), ("c", "9")}
    assert all(h.ngram == "one two three four five six" for h in hits)
    assert index.match("") == [] and isinstance(index.hashes, np.ndarray)
