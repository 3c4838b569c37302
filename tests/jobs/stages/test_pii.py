"""PII redaction through Spark: real refined pairs with personal data planted in each of the
four published texts, one `pair_pii` row per pair, publishing with placeholders (or without
those pairs), a rerun that checks nothing, and a pair the step never saw checked while
publishing (jobs/stages/pii.py, jobs/core/pii.py)."""

from __future__ import annotations

import json

import pytest
from pyspark.sql import functions as F

from tests.conftest import shared
from tests.jobs.stages.test_gate import _write
from webinstruct.jobs.core import pii as core
from webinstruct.jobs.core.config import load_config
from webinstruct.jobs.core.lake import open_lake
from webinstruct.jobs.stages import export, pii
from webinstruct.jobs.stages.decontam.publish import publish

OVERRIDES = ["spark.shuffle_partitions=2", "gate.enabled=false", "gate.dedup=false"]
PLANTED = {  # qa_id: (field, sentence, the personal value in it, type)
    "s0": ("answer", "write to me at j.doe+forum@example.com", "j.doe+forum@example.com", "EMAIL"),
    "s1": ("orig_question", "call me on +44 20 7946 0958 tonight", "+44 20 7946 0958", "PHONE"),
    "s2": ("question", "see https://api.example.com/v1?access_token=abcd1234efgh5678 for the data", "abcd1234efgh5678", "SECRET"),
    "g0": ("orig_answer", "paid with 4111 1111 1111 1111 yesterday", "4111 1111 1111 1111", "CREDIT_CARD"),
}


def _pairs(n_stack: int = 6, n_gsm: int = 4) -> list[tuple]:
    stack = [json.loads(line) for line in open(shared("qa", "stackmathqa_700.jsonl"), encoding="utf-8")][:n_stack]
    gsm = [json.loads(line) for line in open(shared("benchmarks", "gsm8k", "train.jsonl"), encoding="utf-8")][:n_gsm]
    rows = [[f"s{i}", f"stack{i}", r["Q"], r["A"], r["Q"], r["A"]] for i, r in enumerate(stack)]
    rows += [[f"g{i}", f"gsm{i}", r["question"], r["answer"], r["question"], r["answer"]] for i, r in enumerate(gsm)]
    index = {"orig_question": 2, "orig_answer": 3, "question": 4, "answer": 5}
    for row in rows:
        if row[0] in PLANTED:
            field, sentence, _, _ = PLANTED[row[0]]
            row[index[field]] = f"{sentence}\n{row[index[field]]}"
    return [(*row, row[4] + "\n" + row[5], "llm", 2) for row in rows]


@pytest.fixture(scope="module")
def env(spark, tmp_path_factory):
    cfg = load_config(lake=str(tmp_path_factory.mktemp("pii") / "lake"), overrides=OVERRIDES)
    lake = open_lake(spark, cfg)
    lake.config = cfg
    pairs = _pairs()
    _write(spark, lake, pairs)
    first = pii.run(spark, cfg, lake)
    return {"cfg": cfg, "lake": lake, "pairs": pairs, "first": first}


def test_each_pair_is_checked_once_and_planted_values_are_found_by_type(env, spark):
    lake, first = env["lake"], env["first"]
    rows = {r["qa_id"]: r for r in lake.read("pair_pii").collect()}
    assert set(rows) == {p[0] for p in env["pairs"]} and first["pii_checked"] == len(env["pairs"])
    for qa_id, row in rows.items():
        if qa_id in PLANTED:
            field, sentence, value, kind = PLANTED[qa_id]
            assert row["findings"] == 1 and [(c["type"], c["count"]) for c in row["counts"]] == [(kind, 1)], (qa_id, row["counts"])
            assert row[field].startswith(sentence.replace(value, f"<{kind}>"))
            assert all(row[f] is None for f in ("question", "answer", "orig_question", "orig_answer") if f != field)
        else:  # real maths pairs stay untouched
            assert row["findings"] == 0 and row["counts"] == [] and row["question"] is None and row["answer"] is None
    assert first["pii_pairs_with_findings"] == 4 and all(first[f"pii:{k}"] == 1 for *_, k in PLANTED.values())
    again = pii.run(spark, env["cfg"], lake)
    assert again["pii_pairs_in"] == 0 and lake.count("pair_pii") == len(env["pairs"])


def test_publish_writes_placeholders_and_drop_leaves_the_pairs_out(env, spark):
    lake, cfg = env["lake"], env["cfg"]
    counters = publish(spark, cfg, lake, None)
    assert counters["pii_checked_at_publish"] == 0  # the step saw every pair
    published = {r["qa_id"]: r for r in lake.read("webinstruct").collect()}
    assert set(published) == {p[0] for p in env["pairs"]}
    originals = {p[0]: p for p in env["pairs"]}
    for qa_id, row in published.items():
        if qa_id in PLANTED:
            field, sentence, value, kind = PLANTED[qa_id]
            assert row[field].startswith(sentence.replace(value, f"<{kind}>"))
            assert not any(value in (row[f] or "") for f in ("question", "answer", "orig_question", "orig_answer"))
        else:
            p = originals[qa_id]
            assert (row["orig_question"], row["orig_answer"], row["question"], row["answer"]) == p[2:6]
    found = core.published_counts(lake, cfg, lake.read("webinstruct"))
    assert found == {"mode": "redact", "pairs": 4, "types": {"CREDIT_CARD": 1, "EMAIL": 1, "PHONE": 1, "SECRET": 1}}
    facts: dict = {}
    card = export.pii_text(cfg, lake, facts)  # the dataset card's "Personal data" section
    assert "in 4 published pairs" in card and "| EMAIL | 1 |" in card and facts["pii"]["types"]["PHONE"] == 1
    emailed = [q for q, (_, _, _, kind) in PLANTED.items() if kind == "EMAIL"]
    filtered = lake.read("webinstruct").where(~F.col("qa_id").isin(emailed))  # an export that leaves the e-mail's pair out
    text = export.pii_text(cfg, lake, {}, filtered)
    assert "in 3 published pairs" in text and "| EMAIL |" not in text and "| PHONE | 1 |" in text

    drop = load_config(lake=cfg.lake.root, overrides=[*OVERRIDES, "pii.mode=drop"])
    lake.config = drop
    try:
        out = publish(spark, drop, lake, None)
        assert out["pii_dropped"] == 4 and out["published"] == len(env["pairs"]) - 4
        assert not {r["qa_id"] for r in lake.read("webinstruct").collect()} & set(PLANTED)
        assert core.published_counts(lake, drop, lake.read("webinstruct"))["pairs"] == 4  # the pairs left out
    finally:
        lake.config = cfg


def test_a_pair_the_step_never_saw_is_checked_while_publishing(env, spark):
    lake, cfg = env["lake"], env["cfg"]
    late = [("late", "late-doc", "Who can help? Mail ana.lopez@uni.example.edu", "x = 2", "Who can help? Mail ana.lopez@uni.example.edu",
             "Solve 2x = 4, so x = 2.", "Who can help?", "llm", 3)]
    _write(spark, lake, late, run="20260102T000000Z-bbbb")
    counters = publish(spark, cfg, lake, None)
    assert counters["pii_checked_at_publish"] == 1
    row = lake.read("webinstruct").where("qa_id = 'late'").first()
    assert row["question"] == "Who can help? Mail <EMAIL>" and row["orig_question"] == "Who can help? Mail <EMAIL>"
    assert row["answer"] == "Solve 2x = 4, so x = 2."  # a linear equation is not personal data
