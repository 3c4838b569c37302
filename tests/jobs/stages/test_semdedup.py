"""Semantic dedup through Spark: real GSM8K and MATH500 questions with hand-written rewordings
and near misses (tests/data/semdedup_rewordings.jsonl) as refined pairs; the real MiniLM
encoder and MLlib k-means; publishing keeps one pair per group of rewordings, keeps the
already-published pair when a later rewording sorts first, publishes the same pairs on a
rerun and after a full re-cluster (jobs/stages/semdedup.py, jobs/core/semdedup.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from tests.jobs.stages.test_gate import _write
from webinstruct.jobs.core import semdedup as core
from webinstruct.jobs.core.config import load_config
from webinstruct.jobs.core.figures import BEFORE_SEMDEDUP_ROW, funnel
from webinstruct.jobs.core.lake import open_lake
from webinstruct.jobs.core import report
from webinstruct.jobs.stages import export, semdedup
from webinstruct.jobs.stages.decontam.publish import publish
from webinstruct.lib.decontam.embed_index import encode
from webinstruct.lib.dedup.semantic import collapse, numbers_of

FIXTURE = Path(__file__).resolve().parents[2] / "data" / "semdedup_rewordings.jsonl"
OVERRIDES = ["spark.shuffle_partitions=2", "gate.enabled=false", "gate.dedup=false", "pii.mode=off"]


def _items():
    rows = [json.loads(line) for line in open(FIXTURE, encoding="utf-8")]
    same = [r for r in rows if r["same"] and r["source"] in ("gsm8k_train", "math500")][:6]
    near = [r for r in rows if not r["same"] and r["source"] in ("gsm8k_train", "math500")
            and r["original"] not in {s["original"] for s in same}][:4]
    return same, near


def _rule(a: str, b: str, threshold: float) -> bool:
    """What the rule (lib/dedup/semantic.py) decides for two questions, without Spark."""
    v = encode([a, b], "all-MiniLM-L6-v2")
    return collapse(v, [(0,), (1,)], threshold, [numbers_of(a), numbers_of(b)]).keeper[1] == 0


def _pair(qa_id: str, question: str, day: int = 2):
    answer = "The answer follows from the numbers given; see the worked steps above. The result is 42."
    return (qa_id, f"doc-{qa_id}", question, answer, question, answer, question + "\n" + answer, "llm", day)


@pytest.fixture(scope="module")
def env(spark, tmp_path_factory):
    cfg = load_config(lake=str(tmp_path_factory.mktemp("semdedup") / "lake"), overrides=OVERRIDES)
    lake = open_lake(spark, cfg)
    lake.config = cfg
    same, near = _items()
    pairs = [_pair(f"a{i}", r["original"]) for i, r in enumerate(same)]  # originals sort before their rewordings
    pairs += [_pair(f"r{i}", r["other"]) for i, r in enumerate(same)]
    pairs += [_pair(f"n{i}o", r["original"]) for i, r in enumerate(near)] + [_pair(f"n{i}x", r["other"]) for i, r in enumerate(near)]
    _write(spark, lake, pairs)
    first = semdedup.run(spark, cfg, lake)
    t = cfg.semdedup.threshold
    merged = {f"r{i}" for i, r in enumerate(same) if _rule(r["original"], r["other"], t)}
    near_merged = {f"n{i}x" for i, r in enumerate(near) if _rule(r["original"], r["other"], t)}
    assert len(merged) >= 3  # most rewordings are caught (tests/lib/dedup/test_semantic.py measures how many)
    return {"cfg": cfg, "lake": lake, "same": same, "near": near, "pairs": pairs, "first": first, "merged": merged,
            "near_merged": near_merged}


def test_the_step_embeds_each_question_once_and_fits_clusters(env, spark):
    lake, first = env["lake"], env["first"]
    assert first["semdedup_embedded"] == len(env["pairs"]) and first["semdedup_clusters"] == 1 and first["semdedup_fitted"] == 1
    again = semdedup.run(spark, env["cfg"], lake)
    assert again["semdedup_embedded"] == 0 and "semdedup_fitted" not in again  # new questions would join the stored clusters
    assert lake.read("pair_embeddings").select("qa_id").distinct().count() == len(env["pairs"])


def test_publish_keeps_one_pair_per_group_of_rewordings(env, spark):
    lake, cfg = env["lake"], env["cfg"]
    counters = publish(spark, cfg, lake, None)
    published = {r["qa_id"] for r in lake.read("webinstruct").collect()}
    n_same = len(env["same"])
    left_out = env["merged"] | env["near_merged"]  # what the rule decides pair by pair, applied through Spark
    assert {f"a{i}" for i in range(n_same)} <= published  # every original is kept ...
    assert published == {p[0] for p in env["pairs"]} - left_out  # ... and exactly the rule's rewordings left out
    groups = {r["qa_id"]: r for r in lake.read("semdedup").collect()}
    assert set(groups) == left_out
    assert all(g["keeper_qa_id"] == (f"a{k[1:]}" if k[0] == "r" else f"{k[:-1]}o") and g["similarity"] >= cfg.semdedup.threshold
               for k, g in groups.items())
    assert counters["semdedup_removed"] == len(left_out) and counters["semdedup_groups"] == len(left_out)
    steps = dict(funnel(lake))
    assert steps[BEFORE_SEMDEDUP_ROW] == len(env["pairs"]) and steps["clean pairs (webinstruct)"] == len(env["pairs"]) - len(left_out)
    examples = core.examples(lake)
    assert len(examples) == len(left_out) and all(g["size"] == 2 and len(g["removed"]) == 1 for g in examples)
    facts: dict = {}
    assert f"{len(left_out)} pairs were left out" in export.semdedup_text(cfg, lake, facts)  # the card
    assert facts["semdedup"]["removed"] == len(left_out) and report._semdedup(lake, cfg)["removed"] == len(left_out)
    # a rerun publishes the same pairs and rewrites nothing
    assert publish(spark, cfg, lake, None)["published_changed"] == 0


def test_a_later_rewording_never_displaces_the_published_pair(env, spark):
    lake, cfg = env["lake"], env["cfg"]
    first = sorted(env["merged"])[0]
    later = _pair("0late", env["same"][int(first[1:])]["other"], day=3)  # the same rewording again, sorting before a<i>
    _write(spark, lake, [later], run="20260102T000000Z-bbbb")
    counters = publish(spark, cfg, lake, None)
    assert counters["semdedup_embedded"] == 1 and "semdedup_fitted" not in counters  # joined the stored clusters
    published = {r["qa_id"] for r in lake.read("webinstruct").collect()}
    keeper = f"a{first[1:]}"
    assert keeper in published and "0late" not in published
    assert lake.read("semdedup").where(F.col("qa_id") == "0late").first()["keeper_qa_id"] == keeper
    # a full re-cluster on request: a new fit, the same published set
    before = sorted(published)
    assert semdedup.run(spark, cfg, lake, recluster=True)["semdedup_fitted"] == 1
    assert lake.read("semdedup_centroids").select("fit_id").distinct().count() == 2
    publish(spark, cfg, lake, None)
    assert sorted(r["qa_id"] for r in lake.read("webinstruct").collect()) == before
