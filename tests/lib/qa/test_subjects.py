"""The zero-shot subject classifier (lib/qa/subjects.py) with the real MiniLM encoder.

MMLU's test questions, mapped to our categories by bench/subjects.py, are the evaluation:
a sample of 10 per MMLU subject (570 questions) must beat the majority baseline widely.
"""

from __future__ import annotations

import pytest

from bench.subjects import GROUPS, MMLU, evaluate, mmlu_items
from tests.conftest import shared
from webinstruct.lib.decontam.embed_index import DEFAULT_MODEL, encode
from webinstruct.lib.qa.subjects import CATEGORIES, CATEGORY_NAMES, SubjectClassifier


@pytest.fixture(scope="module")
def classifier():
    return SubjectClassifier(lambda texts: encode(texts, DEFAULT_MODEL))


def test_every_category_is_described_and_mapped():
    assert set(GROUPS) == set(CATEGORY_NAMES) and len(CATEGORY_NAMES) == 11
    assert all(len(examples) >= 5 and len(description) > 100 for description, examples in CATEGORIES.values())


def test_mmlu_questions_beat_the_majority_baseline_widely(classifier):
    shared("benchmarks", "mmlu")
    assert MMLU.is_file()
    result = evaluate(mmlu_items(per_subject=10), classifier)
    print(f"MMLU sample: accuracy {result['accuracy']:.3f}, majority {result['majority']:.3f}")
    assert result["n"] == 570
    assert result["accuracy"] >= result["majority"] + 0.2
    strong = [c for c in ("math", "chemistry", "biology", "law", "economics and business")]
    assert all(result["per_category"][c][0] >= 0.5 for c in strong), result["per_category"]


def test_questions_written_for_a_subject_land_there(classifier):
    got = classifier.classify([
        "Find all real roots of x^3 - 6x^2 + 11x - 6 = 0.",
        "What is the terminal velocity of a skydiver with drag coefficient 0.7?",
        "How many grams of NaCl are needed for 250 mL of a 0.5 M solution?",
        "Why do children inherit some traits from each parent?",
        "Why does my recursive Fibonacci function in Java run so slowly?",
        "Is a landlord liable if a tenant's guest slips on an icy step?",
        "",
    ])
    assert [c for c, _ in got[:6]] == ["math", "physics", "chemistry", "biology", "computer science", "law"]
    assert all(-1.0 <= s <= 1.0 for _, s in got) and got[6][0] in CATEGORY_NAMES
    assert classifier.classify([]) == []
