"""Pair labels through Spark: real refined pairs in, one `pair_labels` row per pair, the same
labels as the rules give, incremental and idempotent (jobs/stages/label.py).

Refined pairs are written as data: real MATH500 solutions, GSM8K answers and Stack Exchange
pairs (one of them a proof), plus a refiner failure that must not be labelled.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.conftest import shared
from webinstruct.jobs.core.config import load_config
from webinstruct.jobs.core.lake import open_lake
from webinstruct.jobs.core.tables import PAIR_LABELS, QA_REFINED
from webinstruct.jobs.core import labels
from webinstruct.jobs.stages import label
from webinstruct.lib.qa.answer_types import LABEL_VERSION
from webinstruct.lib.qa.answer_types import label as rules
from webinstruct.lib.qa.subjects import CATEGORY_NAMES


def _jsonl(*parts: str, n: int) -> list[dict]:
    with open(shared(*parts), encoding="utf-8") as f:
        return [json.loads(line) for _, line in zip(range(n), f)]


def _refined(spark, lake, rows: list[tuple[str, str, str, str]], run: str, status: str = "ok") -> None:
    """rows: (qa_id, doc_id, question, answer)."""
    data = [{"qa_id": q, "refiner": "m1", "doc_id": d, "status": status, "question": qq, "answer": a, "orig_question": qq,
             "orig_answer": a, "model": "m1", "prompt_version": "r1", "run_id": run, "refined_at": dt.datetime(2026, 1, 1)}
            for q, d, qq, a in rows]
    lake.append("qa_refined", spark.createDataFrame([{f: r.get(f) for f in QA_REFINED.fieldNames()} for r in data], QA_REFINED))


@pytest.fixture(scope="module")
def env(spark, tmp_path_factory):
    cfg = load_config(lake=str(tmp_path_factory.mktemp("label") / "lake"), overrides=["spark.shuffle_partitions=2"])
    lake = open_lake(spark, cfg)
    math = _jsonl("benchmarks", "math", "math500_test.jsonl", n=8)
    gsm = _jsonl("benchmarks", "gsm8k", "test.jsonl", n=4)
    rows = [(f"m{i}", f"math{i}", r["problem"], r["solution"]) for i, r in enumerate(math)]
    rows += [(f"g{i}", f"gsm{i}", r["question"], r["answer"]) for i, r in enumerate(gsm)]
    rows += [("proof", "se-proof", "Prove that the square root of 2 is irrational.",
              "Suppose $\\sqrt{2}=p/q$ in lowest terms. Then $p^2=2q^2$, so $p$ is even, say $p=2k$; then $q^2=2k^2$ "
              "and $q$ is even too, against lowest terms. $\\blacksquare$")]
    _refined(spark, lake, rows, "20260101T000000Z-aaaa")
    _refined(spark, lake, [("failed", "doc-x", "What is 2+2?", "")], "20260101T000000Z-aaaa", status="parse_error")
    first = label.run(spark, cfg, lake)
    return spark, cfg, lake, rows, first


def test_each_refined_pair_gets_the_rules_label_once(env):
    spark, cfg, lake, rows, first = env
    got = {r["qa_id"]: r for r in lake.read("pair_labels").collect()}
    assert set(got) == {r[0] for r in rows}  # the parse_error attempt is not a pair
    assert first["labelled"] == len(rows) and first["verifiable"] + first["not_verifiable"] == len(rows)
    for qa_id, _, question, answer in rows:
        want = rules(question, answer)
        row = got[qa_id]
        assert (row["final_answer"], row["answer_type"], row["verifiable"], row["answer_method"]) == \
               (want.final, want.answer_type, want.verifiable, want.method)
        assert row["label_key"].startswith(LABEL_VERSION)
    assert all(got[f"g{i}"]["answer_type"] == "integer" and got[f"g{i}"]["verifiable"] for i in range(4))
    assert got["g0"]["final_answer"] == "18" and got["g0"]["answer_method"] == "gsm8k"
    assert got["proof"]["answer_type"] == "proof" and not got["proof"]["verifiable"] and got["proof"]["final_answer"] is None
    assert got["m0"]["answer_type"] == "set_or_tuple" and got["m0"]["answer_method"] == "boxed"  # (3, pi/2)
    assert sorted(lake.read("pair_labels").columns) == sorted(PAIR_LABELS.fieldNames())
    # the subject: every pair gets one; these are maths questions
    assert all(r["category"] in CATEGORY_NAMES and -1 <= r["category_score"] <= 1 for r in got.values())
    assert sum(r["category"] == "math" for r in got.values()) >= len(rows) - 3
    assert sum(first[f"category:{c}"] for c in CATEGORY_NAMES if f"category:{c}" in first) == len(rows)


def test_rerun_labels_nothing_and_a_rewrite_is_labelled_again(env):
    spark, cfg, lake, rows, first = env
    before = lake.count("pair_labels")
    assert label.run(spark, cfg, lake)["pairs_in"] == 0 and lake.count("pair_labels") == before
    # refine rewrote one pair in a later run: only that pair is labelled, under its new texts
    _refined(spark, lake, [("g1", "gsm1", rows[9][2], "Half of 6 is 3, so the answer is 3.")], "20260102T000000Z-bbbb")
    again = label.run(spark, cfg, lake)
    assert again["labelled"] == 1
    latest = lake.read("pair_labels").where("qa_id = 'g1'").orderBy("labelled_at").collect()
    assert len(latest) == 2 and latest[-1]["final_answer"] == "3" and latest[-1]["answer_method"] == "stated"
    # another key (subjects off) labels every current pair again, without a category
    plain = load_config(lake=cfg.lake.root, overrides=["spark.shuffle_partitions=2", "label.subject=false"])
    assert labels.label_key(plain) != labels.label_key(cfg)
    assert label.run(spark, plain, lake)["labelled"] == len(rows)
    rows_plain = lake.read("pair_labels").where(f"label_key = '{labels.label_key(plain)}'").collect()
    assert len(rows_plain) == len(rows) and all(r["category"] is None for r in rows_plain)
