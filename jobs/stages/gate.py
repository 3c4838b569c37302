"""Gate: every refined pair is checked before it can be published -> `qa_quality`.

One row per (pair, refiner, refined texts, gate settings): whether it passed, the failed
checks as reasons (lib/qa/gate.py), the gate's score, and `quality`, a heuristic a user can
sort and cut on (gate score, the page's recall score, markup votes; weights in `gate.*`).
Publishing (`decontam pairs`) keeps only pairs that passed, and dedups them at pair level
with the sketches stored here. Incremental: a rerun checks only pairs with no row for the
current texts and settings; a changed threshold re-checks everything.

    webinstruct gate
"""

from __future__ import annotations

from collections import Counter

from pyspark.sql import functions as F
from pyspark.sql import types as T

from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.errors import MissingInput
from webinstruct.jobs.core.lake import Lake
from webinstruct.jobs.core.lease import writes
from webinstruct.jobs.core.runs import RunRecorder
from webinstruct.jobs.core.tables import QA_QUALITY
from webinstruct.jobs.core.views import (current_pairs, gate_key, gate_options, markup_signal, pair_hash, recall_current,
                                         refined_pairs)
from webinstruct.lib.dedup.minhash import LshParams
from webinstruct.udfs.gate import gate_map

TABLE = "qa_quality"
SOURCE = "qa_refined"


def lsh_params(cfg: Config) -> LshParams:
    return LshParams.for_threshold(cfg.gate.dedup_threshold, cfg.dedup.num_perm, cfg.gate.dedup_ngram, cfg.dedup.seed)


@writes("gate")
def run(spark, cfg: Config, lake: Lake) -> dict:
    g = cfg.gate
    if not lake.exists(SOURCE):
        raise MissingInput(f"no table {SOURCE!r} in lake {lake.root} (run refine first)")
    options = gate_options(cfg)
    key = gate_key(cfg)
    recorder = RunRecorder(lake, "gate", cfg, args={"gate_key": key})
    pairs = refined_pairs(lake).withColumn("pair_hash", pair_hash()).withColumn("gate_key", F.lit(key))
    if lake.exists(TABLE):
        done = lake.read(TABLE).where(F.col("gate_key") == key).select("qa_id", "refiner", "pair_hash")
        pairs = pairs.join(done, ["qa_id", "refiner", "pair_hash"], "left_anti")
    extracted = current_pairs(lake)
    method = F.coalesce(F.col("method"), F.lit("llm")) if "method" in extracted.columns else F.lit("llm")
    methods = extracted.select("qa_id", method.alias("method"))
    docs = lake.read("documents").select("doc_id", F.col("text").alias("page_text"), F.col("lang").alias("page_lang"))
    todo = (pairs.select("qa_id", "refiner", "doc_id", "orig_question", "orig_answer", "question", "answer", "pair_hash", "gate_key")
            .join(methods.dropDuplicates(["qa_id"]), "qa_id", "left").join(docs, "doc_id", "left"))
    todo = todo.join(_recall(lake), "doc_id", "left").join(_votes(lake), ["doc_id", "orig_question"], "left")
    schema = T.StructType([f for f in QA_QUALITY.fields if f.name not in ("run_id", "checked_at")])
    d = cfg.decontam
    fn = gate_map(options, d.embed_model if g.min_similarity > 0 else "", d.embed_device, d.embed_threads, cfg.ingest.lid_model,
                  (g.score_weight, g.recall_weight, g.votes_weight), lsh_params(cfg), schema.fieldNames())
    n = todo.count()
    counters: Counter = Counter(pairs_in=n)
    if n:
        parts = max(1, -(-n // g.commit_pairs))
        out = (todo.repartition(max(parts, cfg.spark.shuffle_partitions), "qa_id")
               .mapInPandas(fn, schema)
               .withColumn("run_id", F.lit(recorder.run_id)).withColumn("checked_at", F.current_timestamp())
               .select(*QA_QUALITY.fieldNames()))
        commit = lake.append(TABLE, out, txn=(f"webinstruct.gate.{recorder.run_id}", 0))
        counters["checked"] = commit.rows
        written = lake.read(TABLE).where(F.col("run_id") == recorder.run_id)
        for row in written.groupBy("passed").count().collect():
            counters["passed" if row["passed"] else "rejected"] += row["count"]
        for row in written.select(F.explode("reasons").alias("r")).groupBy("r").count().collect():
            counters[f"reason:{row['r']}"] = row["count"]
    counters = dict(counters)
    recorder.finish("ok", counters)
    return counters


def _recall(lake: Lake):
    if not lake.exists("recall_scores"):
        return lake.read("documents").select("doc_id", F.lit(None).cast("double").alias("recall_score")).limit(0)
    return recall_current(lake).groupBy("doc_id").agg(F.max("score").alias("recall_score"))


def _votes(lake: Lake):
    if not lake.exists("qa_markup"):
        return lake.read("documents").select("doc_id", F.lit(None).cast("string").alias("orig_question"),
                                             F.lit(None).cast("boolean").alias("accepted"),
                                             F.lit(None).cast("long").alias("votes")).limit(0)
    return markup_signal(lake)


def summary_rows(counters: dict, lake: Lake | None = None) -> list[tuple[str, object]]:
    rows = [("pairs checked (new)", counters.get("checked", 0)), ("passed", counters.get("passed", 0)),
            ("rejected", counters.get("rejected", 0))]
    reasons = sorted(((k.split(":", 1)[1], v) for k, v in counters.items() if k.startswith("reason:")), key=lambda kv: -kv[1])
    rows += [(f"  {reason}", count) for reason, count in reasons[:8]]
    return rows
