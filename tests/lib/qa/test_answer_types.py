"""Answer types and verifiability (lib/qa/answer_types.py).

Against tests/data/answer_types_labelled.jsonl: 100 real items (MATH500 solutions, GSM8K
answers, Stack Exchange pairs from ../shared/data) labelled by hand, every type present;
against every reference answer of MATH500 and GSM8K; and against TheoremQA's own labels.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import shared
from webinstruct.lib.qa.answer_types import ANSWER_TYPES, VERIFIABLE, answer_type, closing_formula, label

FIXTURE = Path(__file__).resolve().parents[2] / "data" / "answer_types_labelled.jsonl"


def _fixture() -> list[dict]:
    return [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_hand_labelled_real_answers_are_typed_as_labelled():
    rows = _fixture()
    assert len(rows) == 100 and set(Counter(r["type"] for r in rows)) == set(ANSWER_TYPES)
    got = [label(r["question"], r["answer"]) for r in rows]
    right = Counter(r["source"] for r, g in zip(rows, got) if g.answer_type == r["type"])
    total = Counter(r["source"] for r in rows)
    accuracy = sum(right.values()) / len(rows)
    print(f"answer types: {accuracy:.2f} of {len(rows)}; " + ", ".join(f"{s} {right[s]}/{n}" for s, n in total.items()))
    assert accuracy >= 0.9
    assert right["math500"] == total["math500"] and right["gsm8k"] == total["gsm8k"]
    assert sum(g.verifiable == r["verifiable"] for r, g in zip(rows, got)) >= 92
    # a proof or an essay is never verifiable
    assert not any(g.verifiable for r, g in zip(rows, got) if r["type"] in ("proof", "long_text"))


def test_every_benchmark_reference_answer_is_verifiable():
    for parts, field in ((("benchmarks", "math", "math500_test.jsonl"), "answer"),):
        rows = [json.loads(line) for line in shared(*parts).read_text(encoding="utf-8").splitlines()]
        kinds = Counter(answer_type(r[field]) for r in rows)
        assert set(kinds) <= VERIFIABLE, kinds
        assert kinds["integer"] > 250 and kinds["fraction"] > 40 and kinds["matrix"] >= 5 and kinds["interval"] >= 5
    gsm = [json.loads(line) for line in shared("benchmarks", "gsm8k", "test.jsonl").read_text(encoding="utf-8").splitlines()]
    assert all(label("", r["answer"]).answer_type == "integer" for r in gsm)


def test_theoremqa_answer_types_agree_with_its_own_labels():
    mapping = {"integer": {"integer"}, "float": {"decimal", "integer"}, "bool": {"boolean"},
               "option": {"multiple_choice"}, "list of integer": {"set_or_tuple"}, "list of float": {"set_or_tuple"}}
    two = {"set_or_tuple", "interval"}  # "[0, 5]": a two-element list reads as a closed interval too
    rows = json.loads(shared("benchmarks", "theoremqa", "theoremqa_test.json").read_text(encoding="utf-8"))
    agree = sum(answer_type(str(r["Answer"])) in (two if isinstance(r["Answer"], list) and len(r["Answer"]) == 2
                                                  else mapping[r["Answer_type"]]) for r in rows)
    assert agree >= 0.97 * len(rows)


@pytest.mark.parametrize("final, kind", [
    ("18", "integer"), ("\\$32,\\!348", "integer"), ("5 cm", "integer"), ("120^\\circ", "integer"), ("x = 5", "integer"),
    ("864 \\mbox{ inches}^2", "integer"), ("2^8 - 1 = 255", "integer"),
    ("12.5", "decimal"), ("45\\%", "decimal"), ("3.2 \\times 10^{-4}", "decimal"),
    ("\\frac{3}{4}", "fraction"), ("-\\dfrac{1}{2}", "fraction"), ("3/4", "fraction"),
    ("2\\sqrt{3}", "expression"), ("\\frac{\\pi}{4}", "expression"), ("(a+5)(b+2)", "expression"),
    ("y = 2x + 1", "equation"), ("x \\ge 3", "equation"), ("5x - 7y + 11z + 4 = 0", "equation"),
    ("(-\\infty, 3]", "interval"), ("[0,1)", "interval"), ("x \\in [-2,7]", "interval"), ("(-2,5) \\cup (6,\\infty)", "interval"),
    ("(3,-4)", "set_or_tuple"), ("1, 2, 3", "set_or_tuple"), ("\\{1,2\\}", "set_or_tuple"), ("1 \\pm \\sqrt{19}", "set_or_tuple"),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "matrix"), ("(B)", "multiple_choice"), ("(c)", "multiple_choice"),
    ("Yes", "boolean"), ("false", "boolean"), ("\\text{Evelyn}", "short_text"), ("isosceles", "short_text"), ("", "none"),
])
def test_final_answer_shapes(final, kind):
    assert answer_type(final) == kind


def test_a_pair_of_bounds_is_an_interval_when_the_question_asks_for_one():
    assert answer_type("(-\\sqrt{3}, \\sqrt{3})") == "set_or_tuple"
    assert answer_type("(-\\sqrt{3}, \\sqrt{3})", "Express your answer in interval notation.") == "interval"


def test_worked_answers_without_a_stated_result():
    assert label("Find P(B).", "Adding the cases,\n$$P(B) = \\frac{21}{140} + \\frac{15}{140}$$\n$$P(B) = \\frac{9}{35}$$\n").final == "\\frac{9}{35}"
    assert closing_formula("so the required probability is $\\frac{16}{81}$.") == "\\frac{16}{81}"
    assert closing_formula("one can set $z=0$ which gives precisely your quoted result.") is None  # the sentence goes on
    assert closing_formula("We get $$x = 3$$\n\n" + "A long paragraph of discussion follows here. " * 5) is None
    proof = label("Prove that there are infinitely many primes.", "Suppose there are finitely many, $p_1..p_n$; then "
                  "$p_1 \\cdots p_n + 1$ has a prime factor not among them. $\\blacksquare$")
    assert (proof.answer_type, proof.verifiable, proof.final) == ("proof", False, None)
    essay = label("Why is the sky blue?", "Rayleigh scattering goes as the inverse fourth power of the wavelength, " * 4)
    assert (essay.answer_type, essay.verifiable) == ("long_text", False)
    verdict = label("Can a group of order 4 be cyclic?", "Yes, $\\mathbb{Z}/4$ is one.")
    assert (verdict.answer_type, verdict.final) == ("boolean", "yes")
    assert label("Where is it proved?", "See https://arxiv.org/abs/2001.11909 for the general form.").answer_type == "none"


def test_hostile_answers_are_bounded():
    for text in ("$" * 200_000, "$$" + "x=" * 100_000 + "$$", "\\begin{align}" * 50_000, "(" * 100_000 + "1,2"):
        got = label("What is x?", text)
        assert got.answer_type in ANSWER_TYPES and (got.final is None or len(got.final) <= 300)
