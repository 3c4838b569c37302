"""Tiers 1 and 2: n-gram matches on pages and pairs, embedding neighbours of refined
questions. Each tier checks only the units it has not checked under its current key, and
records what it checked in `decontam_checked`."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import functions as F

from webinstruct.jobs.core import scope
from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.contamination import CHECKED, EVIDENCE_CHARS, TABLE
from webinstruct.jobs.core.errors import DecontamError, MissingInput
from webinstruct.jobs.core.session import parallelism
from webinstruct.jobs.core.tables import CONTAMINATION, DECONTAM_CHECKED
from webinstruct.jobs.core.views import read_source
from webinstruct.jobs.stages.decontam.bench import Bench
from webinstruct.udfs.decontam import embed_map, ngram_map

HIT_SCHEMA = ("unit_id string, doc_id string, qa_id string, refiner string, field string, benchmark string, "
              "item_id string, score double, evidence string")


def page_units(lake, cfg: Config):
    try:
        docs = read_source(lake, "decontam.page_input", cfg.decontam.page_input)
    except MissingInput as exc:
        raise DecontamError(str(exc)) from None
    none = F.lit(None).cast("string")
    return docs.select("doc_id", none.alias("qa_id"), none.alias("refiner"), none.alias("prompt_version"), "text")


def unit_id(level: str):
    """A page is its doc_id; a pair is its id, refiner and refine prompt version, so a pair
    refined again with a new prompt is new text and is checked again."""
    return F.col("doc_id") if level == "page" else F.concat_ws("|", "qa_id", "refiner", "prompt_version")


def _unchecked(lake, units, level: str, tier: int, key: str):
    """`units` with a unit_id column, minus those this tier already checked under `key`."""
    units = units.withColumn("unit_id", unit_id(level))
    if lake.exists(CHECKED):
        done = lake.read(CHECKED).where((F.col("level") == level) & (F.col("tier") == tier) & (F.col("check_key") == key))
        units = units.join(done.select("unit_id"), "unit_id", "left_anti")
    return units


def _commit_hits(spark, lake, out, *, level: str, tier: int, method: str, key: str, verdict, run_id: str) -> dict:
    """Stage the map's output once, then append its hits (minus any an interrupted run
    already wrote) to `contamination` and its units to `decontam_checked`."""
    now = dt.datetime.now(dt.timezone.utc)
    scratch = lake.scratch("decontam", run_id, f"{level}{tier}")
    try:
        out.write.mode("overwrite").parquet(scratch)
        staged = spark.read.parquet(scratch)
        hits = staged.where(F.col("benchmark").isNotNull()).select(
            F.lit(level).alias("level"), "doc_id", "qa_id", "refiner", F.lit(tier).alias("tier"), F.lit(method).alias("method"),
            "field", "benchmark", "item_id", "score", "evidence", verdict.alias("verdict"), F.lit(key).alias("check_key"),
            F.lit(run_id).alias("run_id"), F.lit(now).cast("timestamp").alias("checked_at"),
        )
        if lake.exists(TABLE):
            cols = ["doc_id", "qa_id", "refiner", "field", "benchmark", "item_id"]
            earlier = lake.read(TABLE).where((F.col("level") == level) & (F.col("tier") == tier) & (F.col("check_key") == key))
            hits = hits.join(earlier.select(*cols), [hits[c].eqNullSafe(earlier[c]) for c in cols], "left_anti")
        written = lake.append(TABLE, hits.select(*CONTAMINATION.fieldNames())).rows
        units = staged.groupBy("unit_id").agg(F.count("benchmark").cast("int").alias("hits"))
        checked = units.select(
            F.lit(level).alias("level"), "unit_id", F.lit(tier).alias("tier"),
            F.lit(key).alias("check_key"), "hits", F.lit(run_id).alias("run_id"), F.lit(now).cast("timestamp").alias("checked_at"),
        )
        commit = lake.append(CHECKED, checked.select(*DECONTAM_CHECKED.fieldNames()))
        flagged = units.where("hits > 0").count() if commit.rows else 0
        return {"checked": commit.rows, "units_with_hits": flagged, "rows": written}
    finally:
        lake.remove_tree(scratch)


def _partitions(spark, todo, cfg: Config):
    return todo.repartition(parallelism(spark))


def tier1(spark, cfg: Config, lake, bench: Bench, level: str, units, run_id: str) -> dict:
    fields = ["text"] if level == "page" else list(cfg.decontam.pair_fields)
    key = bench.key(level, 1)
    todo = _unchecked(lake, units, level, 1, key)
    if todo.limit(1).count() == 0:
        return {"checked": 0, "units_with_hits": 0, "rows": 0}
    payload = scope.current().broadcast(bench.ngram_index())
    out = _partitions(spark, todo, cfg).mapInPandas(ngram_map(payload, fields), HIT_SCHEMA)
    return _commit_hits(spark, lake, out, level=level, tier=1, method="ngram", key=key,
                        verdict=F.lit("contaminated"), run_id=run_id)


def tier2(spark, cfg: Config, lake, bench: Bench, pairs, run_id: str) -> dict:
    d = cfg.decontam
    key = bench.key("pair", 2)
    todo = _unchecked(lake, pairs.select("doc_id", "qa_id", "refiner", "prompt_version", "question"), "pair", 2, key)
    if todo.limit(1).count() == 0:
        return {"checked": 0, "units_with_hits": 0, "rows": 0}
    heads = [q[:EVIDENCE_CHARS] for q in bench.items["question"]]
    payload = scope.current().broadcast((bench.matrix(), list(bench.items["benchmark"]), list(bench.items["item_id"]), heads))
    fn = embed_map(payload, d.embed_model, d.embed_device, d.embed_threads, d.embed_batch, d.top_k, d.judge_threshold)
    out = _partitions(spark, todo, cfg).mapInPandas(fn, HIT_SCHEMA)
    verdict = F.when(F.col("score") >= d.flag_threshold, F.lit("contaminated")).otherwise(F.lit("candidate"))
    return _commit_hits(spark, lake, out, level="pair", tier=2, method="embedding", key=key, verdict=verdict, run_id=run_id)
