"""Semantic dedup through Spark: real GSM8K and MATH500 questions and answers with hand-written
rewordings and near misses (tests/data/semdedup_rewordings.jsonl, tests/rewordings.py) as
refined pairs; the real MiniLM encoder and MLlib k-means; publishing keeps one pair per group
of rewordings, keeps near misses whose numbers match but whose answers differ, keeps the
already-published pair when a later rewording sorts first, publishes the same pairs on a
rerun and after a full re-cluster (jobs/stages/semdedup.py, jobs/core/semdedup.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from tests.jobs.stages.test_gate import _write
from tests.rewordings import rows as fixture_rows
from webinstruct.jobs.core import report
from webinstruct.jobs.core import semdedup as core
from webinstruct.jobs.core.config import load_config
from webinstruct.jobs.core.figures import BEFORE_SEMDEDUP_ROW, funnel
from webinstruct.jobs.core.lake import open_lake
from webinstruct.jobs.core.tables import PAIR_EMBEDDINGS
from webinstruct.jobs.stages import export, semdedup
from webinstruct.jobs.stages.decontam.publish import publish
from webinstruct.lib.decontam.embed_index import encode
from webinstruct.lib.dedup.same_question import checkable_answer, facts_of
from webinstruct.lib.dedup.semantic import collapse

OVERRIDES = ["spark.shuffle_partitions=2", "gate.enabled=false", "gate.dedup=false", "pii.mode=off"]


def _rule(r: dict, threshold: float, answers: bool = True) -> bool:
    """What the rule (lib/dedup/semantic.py) decides for a fixture row, without Spark."""
    v = encode([r["original"], r["other"]], "all-MiniLM-L6-v2")
    said = [checkable_answer(r["answer_original"]), checkable_answer(r["answer_other"])] if answers else None
    return collapse(v, [(0,), (1,)], threshold, [facts_of(r["original"]), facts_of(r["other"])], answers=said).keeper[1] == 0


def _items(threshold: float):
    """Six rewordings, and four near misses with the same numbers and a close embedding:
    only their answers keep them apart."""
    rows = [r for r in fixture_rows() if r["source"] in ("gsm8k_train", "math500")]
    same = [r for r in rows if r["same"]][:6]
    near = [r for r in rows if not r["same"] and r["original"] not in {s["original"] for s in same}
            and _rule(r, threshold, answers=False)][:4]
    return same, near


def _pair(qa_id: str, question: str, answer: str, day: int = 2):
    return (qa_id, f"doc-{qa_id}", question, answer, question, answer, question + "\n" + answer, "llm", day)


@pytest.fixture(scope="module")
def env(spark, tmp_path_factory):
    cfg = load_config(lake=str(tmp_path_factory.mktemp("semdedup") / "lake"), overrides=OVERRIDES)
    lake = open_lake(spark, cfg)
    lake.config = cfg
    t = cfg.semdedup.threshold
    same, near = _items(t)
    assert len(near) == 4
    pairs = [_pair(f"a{i}", r["original"], r["answer_original"]) for i, r in enumerate(same)]  # originals sort first
    pairs += [_pair(f"r{i}", r["other"], r["answer_other"]) for i, r in enumerate(same)]
    pairs += [_pair(f"n{i}o", r["original"], r["answer_original"]) for i, r in enumerate(near)]
    pairs += [_pair(f"n{i}x", r["other"], r["answer_other"]) for i, r in enumerate(near)]
    _write(spark, lake, pairs)
    first = semdedup.run(spark, cfg, lake)
    merged = {f"r{i}" for i, r in enumerate(same) if _rule(r, t)}
    near_merged = {f"n{i}x" for i, r in enumerate(near) if _rule(r, t)}
    assert len(merged) >= 5 and not near_merged  # tests/lib/dedup/test_semantic.py measures the whole fixture
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
    row = env["same"][int(first[1:])]
    later = _pair("0late", row["other"], row["answer_other"], day=3)  # the same rewording again, sorting before a<i>
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


def test_a_lake_from_the_release_that_stored_numbers_takes_new_embeddings(spark, tmp_path):
    """pair_embeddings had a `numbers` column (the rule now reads facts from the question at
    publish time): appending without it leaves it null for the new rows, the old stay readable."""
    cfg = load_config(lake=str(tmp_path / "lake"), overrides=OVERRIDES)
    lake = open_lake(spark, cfg)
    old = T.StructType([*PAIR_EMBEDDINGS.fields[:4], T.StructField("numbers", T.StringType()), *PAIR_EMBEDDINGS.fields[4:]])
    lake.append("pair_embeddings", spark.createDataFrame(
        [("q0", "m1", "h0", cfg.decontam.embed_model, "48", [1.0] + [0.0] * 383, "r0", dt.datetime(2026, 1, 1))], old))
    new = spark.createDataFrame([("q1", "m1", "How many clips did Natalia sell in May?")], "qa_id string, refiner string, question string")
    assert core.embed_missing(spark, cfg, lake, new, "r1")["semdedup_embedded"] == 1
    rows = {r["qa_id"]: r for r in lake.read("pair_embeddings").collect()}
    assert rows["q0"]["numbers"] == "48" and rows["q1"]["numbers"] is None and len(rows["q1"]["embedding"]) == 384
