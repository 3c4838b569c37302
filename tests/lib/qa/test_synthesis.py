"""Synthesis without Spark: seeds, the solve and augment tasks on recorded replies (real
MATH500 solutions as the teacher's text), and the keep policies on votes whose equivalent
answers are spelled differently."""

from __future__ import annotations

import json

import pytest

from tests.conftest import shared
from webinstruct.lib.llm.prompts import load_prompt
from webinstruct.lib.llm.tokenizer import load_tokenizer
from webinstruct.lib.llm.types import Generation
from webinstruct.lib.qa.synthesis import AugmentTask, KeepRule, SolveTask, decide, parse_problem, sample_seed


@pytest.fixture(scope="module")
def tokenizer(offline_model):
    return load_tokenizer(str(offline_model))


@pytest.fixture(scope="module")
def math500():
    return [json.loads(line) for line in open(shared("benchmarks", "math", "math500_test.jsonl"), encoding="utf-8")]


def _solve_task(tokenizer, max_model_len=2048):
    return SolveTask(load_prompt("solve"), "teacher", tokenizer, max_model_len, 256, 7, 4000, "key1")


def test_each_sample_has_its_own_stable_seed():
    seeds = [sample_seed(7, "q1", s) for s in range(8)]
    assert len(set(seeds)) == 8 and seeds == [sample_seed(7, "q1", s) for s in range(8)]
    assert sample_seed(7, "q2", 0) != seeds[0] and sample_seed(8, "q1", 0) != seeds[0]


def test_solve_task_asks_once_per_missing_sample_and_reads_each_reply(tokenizer, math500):
    task = _solve_task(tokenizer)
    item = math500[0]
    record = {"question_id": "q1", "question": item["problem"], "samples": [0, 2, 3], "source": "web", "qa_id": "p1",
              "refiner": "r", "doc_id": "d1"}
    work = task.work(record)
    assert [r.seed for r in work.requests] == [sample_seed(7, "q1", s) for s in (0, 2, 3)]
    assert all(item["problem"] in r.messages[-1]["content"] for r in work.requests)
    replies = [
        Generation(item["solution"], 100, 80, "stop"),  # boxed: its answer is the reference
        Generation("We add them and get 12.", 100, 10, "stop"),  # a number, never stated as the answer
        Generation("Let x be", 100, 256, "length"),
    ]
    rows = task.rows(work, replies)
    assert [(r["sample"], r["status"]) for r in rows] == [(0, "ok"), (2, "no_answer"), (3, "truncated")]
    assert rows[0]["answer"] == item["answer"] and rows[0]["answer_method"] == "boxed"
    assert rows[1]["answer"] == "12" and rows[1]["answer_method"] == "last_number"
    assert rows[2]["answer"] is None and rows[2]["completion_tokens"] == 256
    assert {r["doc_id"] for r in rows} == {"d1"} and {r["qa_id"] for r in rows} == {"p1"}
    assert len({r["solution_id"] for r in rows}) == 3 and len({r["generation_id"] for r in rows}) == 3
    assert task.rows(work, [Generation(error="boom", finish_reason="error")] * 3)[0]["status"] == "engine_error"


def test_a_question_too_long_for_the_context_is_never_sent(tokenizer):
    task = _solve_task(tokenizer, max_model_len=400)
    work = task.work({"question_id": "q", "question": "How many? " * 200, "samples": [0, 1]})
    assert work.requests == []
    rows = task.rows(work, [])
    assert [r["status"] for r in rows] == ["too_long", "too_long"]


RULE = KeepRule("majority", min_votes=2, min_agreement=0.5)


def test_equivalent_answers_spelled_differently_form_one_majority():
    answers = [(0, "2"), (1, "\\frac{1}{2}"), (2, "0.5"), (3, "1/2"), (4, None), (5, "2")]
    d = decide(answers, "\\dfrac12", RULE)
    assert d.majority_answer == "\\frac{1}{2}" and d.votes == 3 and d.parsed == 5
    assert d.kept == [1, 2, 3] and d.expected_answer == "\\frac{1}{2}"
    assert d.groups == [("\\frac{1}{2}", 3), ("2", 2)] and d.reference_agrees is True
    assert d.agreement == 0.6


def test_tie_goes_to_the_answer_seen_first_and_weak_majorities_keep_nothing():
    d = decide([(1, "3"), (0, "7"), (2, "7"), (3, "3")], None, RULE)  # sample order: 7, 3, 7, 3
    assert d.majority_answer == "7" and d.kept == [0, 2] and d.reference_agrees is None
    weak = decide([(0, "1"), (1, "2"), (2, "3"), (3, None)], None, RULE)
    assert weak.votes == 1 and not weak.majority_ok and weak.kept == [] and weak.expected_answer is None
    nothing = decide([(0, None), (1, None)], "5", RULE)
    assert nothing.majority_answer is None and nothing.parsed == 0 and nothing.kept == []


def test_reference_and_both_policies_use_the_pages_answer():
    answers = [(0, "10"), (1, "10"), (2, "12"), (3, "12.0")]
    # the majority (10, seen first in a 2-2 tie) disagrees with the page, which says 12
    majority = decide(answers, "12", RULE)
    assert majority.kept == [0, 1] and majority.reference_agrees is False
    reference = decide(answers, "12", KeepRule("reference"))
    assert reference.kept == [2, 3] and reference.expected_answer == "12"
    assert decide(answers, "12", KeepRule("both")).kept == []
    assert decide([(0, "12"), (1, "12"), (2, "10")], "$12$", KeepRule("both")).kept == [0, 1]
    assert decide(answers, None, KeepRule("reference")).kept == []


def test_augment_task_writes_one_problem_per_prompt_with_the_seeds_lineage(tokenizer):
    prompts = [load_prompt("augment_similar"), load_prompt("augment_harder")]
    task = AugmentTask(prompts, "teacher", tokenizer, 2048, 128, 4000, 0)
    seed = "Natalia sold clips to 48 of her friends in April, and then half as many in May. How many clips did she sell?"
    work = task.work({"question_id": "s1", "question": seed, "source": "web", "qa_id": "p1", "refiner": "r", "doc_id": "d1"})
    assert len(work.requests) == 2 and all(r.json_schema == {"type": "object", "properties": {"problem": {"type": "string"}},
                                                               "required": ["problem"], "additionalProperties": False}
                                           for r in work.requests)
    rows = task.rows(work, [Generation(json.dumps({"problem": "Omar sold 30 pens on Monday and a third as many on Tuesday. "
                                                               "How many pens did he sell?"}), 90, 30, "stop"),
                            Generation(json.dumps({"problem": seed}), 90, 30, "stop")])
    assert [r["status"] for r in rows] == ["ok", "rejected"] and rows[1]["error"] == "copy_of_seed"
    assert [r["source"] for r in rows] == ["augmented:augment_similar", "augmented:augment_harder"]
    assert {r["seed_question_id"] for r in rows} == {"s1"} and {r["doc_id"] for r in rows} == {"d1"}
    assert rows[0]["question_id"] != rows[1]["question_id"]


@pytest.mark.parametrize("text,finish,status", [
    ('{"problem": "A tank holds 40 litres and leaks 3 litres an hour. When is it empty?"}', "stop", "ok"),
    ('{"problem": "Solve it."}', "stop", "rejected"),
    ('{"question": "A tank holds 40 litres."}', "stop", "parse_error"),
    ('{"problem": "A tank', "length", "truncated"),
    ("not json", "stop", "parse_error"),
])
def test_problem_replies_never_raise(text, finish, status):
    assert parse_problem(text, finish, None, "seed").status == status
