"""The semantic-dedup fixture (tests/data/semdedup_rewordings.jsonl: hand-written rewordings
and near misses of real GSM8K, MATH500 and Stack Exchange questions, with a hand-written
answer for each `other`) joined to the originals' real answers, read from ../shared/data at
run time so the third-party text stays out of the project."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import shared

FIXTURE = Path(__file__).resolve().parent / "data" / "semdedup_rewordings.jsonl"


def _jsonl(*parts: str) -> list[dict]:
    return [json.loads(line) for line in open(shared(*parts), encoding="utf-8")]


def rows() -> list[dict]:
    """Fixture rows, each with `answer_original`: GSM8K's solution, MATH500's solution or the
    Stack Exchange answer of the original question (None when it cannot be found); the
    calling test is skipped when ../shared/data is absent."""
    out = [json.loads(line) for line in open(FIXTURE, encoding="utf-8")]
    answers = {r["question"]: r["answer"] for r in _jsonl("benchmarks", "gsm8k", "train.jsonl")}
    answers.update({r["problem"]: r["solution"] for r in _jsonl("benchmarks", "math", "math500_test.jsonl")})
    answers.update({r["Q"]: r["A"] for r in _jsonl("qa", "stackmathqa_700.jsonl")})
    for r in out:
        r["answer_original"] = answers.get(r["original"])
    return out
