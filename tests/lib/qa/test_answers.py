"""Final-answer extraction and equivalence on real benchmark solutions, and majority votes."""

from __future__ import annotations

import json

import pytest

from tests.conftest import shared
from webinstruct.jobs.cli import main
from webinstruct.lib.qa.answers import boxed, equivalent, extract, majority, reference_answer


def _jsonl(*parts):
    return [json.loads(line) for line in open(shared(*parts), encoding="utf-8")]


def test_math500_solutions_give_their_reference_answer():
    rows = _jsonl("benchmarks", "math", "math500_test.jsonl")
    misses = [(extract(r["solution"]).answer, r["answer"]) for r in rows if not equivalent(extract(r["solution"]).answer, r["answer"])]
    assert not misses, misses[:5]
    assert all(extract(r["solution"]).method == "boxed" for r in rows)


def test_gsm8k_solutions_give_their_hash_answer():
    rows = _jsonl("benchmarks", "gsm8k", "test.jsonl")
    for r in rows:
        found = extract(r["answer"])
        assert found.method == "gsm8k" and found.answer == r["answer"].split("####")[-1].strip()


def test_nested_braces_fbox_and_the_last_box_win():
    assert boxed(r"first \boxed{1} then \boxed{\frac{a}{\sqrt{b}}}.") == r"\frac{a}{\sqrt{b}}"
    assert boxed(r"so \fbox{42} is it") == "42"
    assert boxed(r"\boxed{unclosed") is None


@pytest.mark.parametrize("text, answer, method", [
    ("So the answer is 12.", "12", "stated"),
    ("Final answer: $\\frac{3}{4}$", "\\frac{3}{4}", "stated"),
    ("The correct option is (C) because the others fail.", "C", "choice"),
    ("Adding gives 3 + 4 = 7 apples in total", "7", "last_number"),
    ("No result here", None, "none"),
])
def test_extraction_rules(text, answer, method):
    found = extract(text)
    assert (found.answer, found.method) == (answer, method)


def test_equivalence_cases_built_from_real_answers():
    # MATH500 item answers rewritten in the forms solutions use
    assert equivalent("\\frac{1}{2}", "0.5") and equivalent("1/2", "\\dfrac12") and equivalent("\\frac{14}{3}", "4.6666667")
    assert equivalent("\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\pi/2)")  # a tuple (MATH500 item 0)
    assert equivalent("[-2, 7)", "[-2,7)") and not equivalent("[-2, 7)", "(-2, 7)")  # intervals
    assert equivalent("\\{1, 3\\}", "\\{3, 1\\}")  # sets
    assert equivalent("18", "18 \\text{ cm}") and equivalent("1,000", "1000") and equivalent("72", "72.0")
    assert not equivalent("C", "D") and not equivalent("0.5", "0.6") and not equivalent(None, "1")


def test_majority_groups_equivalent_forms_and_breaks_ties_by_first_seen():
    vote = majority(["1/2", "0.5", "3", None, "\\frac12", "3", "garbage{"])
    assert vote.answer == "1/2" and vote.votes == 3 and vote.unparsed == 1
    assert vote.groups[:2] == [("1/2", 3), ("3", 2)]
    assert abs(vote.agreement - 3 / 6) < 1e-9
    tie = majority(["4", "5", "5.0", "4.00"])
    assert tie.answer == "4" and tie.votes == 2  # two groups of two: the first seen wins
    assert majority([None, ""]).answer is None


def test_reference_answer_reads_whole_solutions():
    assert reference_answer("She sold 48/2 = 24.\n#### 72") == "72"
    assert reference_answer("so $\\boxed{5}$.") == "5" and reference_answer(" 7 ") == "7"


def test_cli_prints_each_answer_and_the_match_rate(tmp_path, capsys):
    rows = _jsonl("benchmarks", "gsm8k", "test.jsonl")[:5]
    wrong = dict(rows[1], answer=rows[1]["answer"].rsplit("####", 1)[0] + "#### 999999")
    path = tmp_path / "sols.jsonl"
    path.write_text("\n".join(json.dumps({"solution": r["answer"], "gold": g["answer"]})
                              for r, g in zip([rows[0], wrong, *rows[2:]], rows)), encoding="utf-8")
    assert main(["answers", "--input", str(path), "--reference-field", "gold"]) == 0
    out = capsys.readouterr().out
    assert "5 of 5 solutions have a final answer; 4 match their reference (0.800)" in out
    assert main(["answers", "--input", str(path), "--reference-field", "gold", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [r["match"] for r in result] == [True, False, True, True, True] and result[1]["answer"] == "999999"
    assert main(["answers", "--input", str(path), "--solution-field", "nope"]) == 2
    assert "'nope' is not a field" in capsys.readouterr().err
    assert main(["answers", "--input", str(tmp_path / "missing.jsonl")]) == 2
