"""Pass rates and difficulty bins (lib/qa/difficulty.py) on recorded sampled answers.

The answers are what four samples of a teacher stated for real GSM8K and MATH500 questions
(recorded, as the gate's bench records replies), grouped by the same vote synthesize uses
(lib.qa.synthesis.decide); the reference is the dataset's own answer.
"""

from __future__ import annotations

import json

from tests.conftest import shared
from webinstruct.lib.qa.difficulty import pass_rate
from webinstruct.lib.qa.levels import LEVELS, level
from webinstruct.lib.qa.synthesis import KeepRule, decide

RULE = KeepRule("majority", 2, 0.5, 5)


def _rate(answers: list[str | None], reference: str | None):
    d = decide(list(enumerate(answers)), reference, RULE)
    return pass_rate(d.groups, d.samples, d.reference, d.majority_answer, 5)


def test_pass_rate_counts_samples_equivalent_to_the_pages_answer():
    gsm = json.loads(shared("benchmarks", "gsm8k", "test.jsonl").read_text(encoding="utf-8").splitlines()[0])
    reference = gsm["answer"].split("####")[-1].strip()  # 18
    assert reference == "18"
    got = _rate(["18", "$18", "18.00", "16"], reference)  # equal in three forms, one wrong
    assert (got.passes, got.samples, got.rate, got.reference_kind) == (3, 4, 0.75, "page")
    # a wrong majority does not pass: the page's answer is the reference
    got = _rate(["16", "16", "16", "\\frac{36}{2}"], reference)
    assert (got.passes, got.rate) == (1, 0.25)
    assert _rate(["16", None, None, "20"], reference).rate == 0.0


def test_without_a_page_answer_the_majority_is_the_reference():
    math = json.loads(shared("benchmarks", "math", "math500_test.jsonl").read_text(encoding="utf-8").splitlines()[0])
    answer = math["answer"]  # \left( 3, \frac{\pi}{2} \right)
    got = _rate([answer, "(3, \\pi/2)", "(3, \\frac{\\pi}{2})", "(0, 3)"], None)
    assert (got.passes, got.rate, got.reference_kind) == (3, 0.75, "majority")
    got = _rate([None, None, None, None], None)
    assert (got.passes, got.rate, got.reference_kind) == (0, 0.0, "none")
    assert pass_rate([], 0, None, None).rate is None


def test_bins():
    assert [level(r, 0.75, 0.25) for r in (1.0, 0.75, 0.5, 0.25, 0.125, 0.0, None)] == \
           ["easy", "easy", "medium", "medium", "hard", "unsolved", None]
    assert set(LEVELS) == {"easy", "medium", "hard", "unsolved"}
