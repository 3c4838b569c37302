"""Per-domain statistics of a round's scores and the candidates the judge will see;
only rows that changed are written."""

from __future__ import annotations

import math

from pyspark.sql import functions as F

from webinstruct.jobs.core import scope
from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.errors import RecallError
from webinstruct.jobs.core.lake import Lake
from webinstruct.jobs.core.lease import writes
from webinstruct.jobs.core.runs import RunRecorder
from webinstruct.jobs.core.tables import DOMAINS
from webinstruct.jobs.core.views import domain_verdicts
from webinstruct.jobs.stages.recall.rounds import NO_DOMAIN, current_model, documents


def domain_stats(scores, documents, threshold: float):
    """Per registered domain: documents scored, recalled (score >= threshold), recalled
    fraction and mean score. `scores`: doc_id, score; `documents`: doc_id, domain."""
    joined = scores.join(documents.select("doc_id", "domain"), "doc_id")
    joined = joined.withColumn("domain", F.coalesce(F.col("domain"), F.lit(NO_DOMAIN)))
    return joined.groupBy("domain").agg(
        F.count("*").alias("documents"),
        F.sum((F.col("score") >= threshold).cast("long")).alias("recalled"),
        # rounded: a sum's last bit depends on the shuffle's merge order, and a rerun must
        # compare equal to the stored row
        F.round(F.avg("score"), 9).alias("mean_score"),
    ).withColumn("recalled_fraction", F.col("recalled") / F.col("documents"))


def min_docs_for(cfg: Config, scored: int) -> int:
    """recall.min_docs, or when 0 a floor that grows with the corpus (1000 at 1e9 scored)."""
    r = cfg.recall
    return r.min_docs or max(r.min_docs_floor, math.ceil(r.min_docs_share * scored))


def mark_candidates(stats, min_docs: int, min_fraction: float, max_candidates: int):
    """The `max_candidates` eligible domains with most recalled pages. A top-n of (domain,
    recalled) joined back, not a window over every domain (one task would sort them all)."""
    eligible = (F.col("recalled") >= min_docs) & (F.col("recalled_fraction") >= min_fraction) & (F.col("domain") != NO_DOMAIN)
    top = stats.where(eligible).select("domain", "recalled").orderBy(F.col("recalled").desc(), "domain").limit(max_candidates)
    top = top.select("domain", F.lit(True).alias("_top"))
    return stats.join(F.broadcast(top), "domain", "left").select(
        *stats.columns, F.coalesce(F.col("_top"), F.lit(False)).alias("candidate")).withColumn(
        "min_docs", F.lit(min_docs).cast("long")
    ).withColumn("min_fraction", F.lit(min_fraction))


@writes("recall")
def domains(spark, cfg: Config, lake: Lake, round_no: int = 1) -> dict:
    """Recompute the round's domain rows and write those that changed."""
    model = current_model(lake, round_no)
    if model is None or not lake.exists("recall_scores"):
        raise RecallError(f"round {round_no} has no scores yet (run `webinstruct recall score --round {round_no}`)")
    scores = lake.read("recall_scores").where(F.col("model_id") == model["model_id"]).select("doc_id", "score")
    if scores.limit(1).count() == 0:
        raise RecallError(f"round {round_no}'s model {model['model_id']} has scored nothing yet (run `webinstruct recall score --round {round_no}`)")
    stats = scope.current().persist(domain_stats(scores, documents(lake, cfg), cfg.recall.threshold))
    scored = stats.agg(F.sum("documents")).collect()[0][0] or 0
    min_docs = min_docs_for(cfg, scored)
    rows = mark_candidates(stats, min_docs, cfg.recall.min_fraction, cfg.recall.max_candidates)
    rows = rows.withColumn("round", F.lit(round_no).cast("int")).withColumn("model_id", F.lit(model["model_id"]))
    verdict_cols = ["verdict", "reason", "judge_status", "judge_model", "prompt_version"]
    if lake.exists("domain_verdicts"):
        v = domain_verdicts(lake).select(
            "domain",
            F.when(F.col("status") != "ok", None).when(F.col("educational"), "educational").otherwise("not_educational").alias("verdict"),
            "reason", F.col("status").alias("judge_status"), F.col("model").alias("judge_model"), "prompt_version",
        )
        rows = rows.join(v, "domain", "left")
    else:
        for c in verdict_cols:
            rows = rows.withColumn(c, F.lit(None).cast("string"))
    recorder = RunRecorder(lake, f"recall.domains.{round_no}", cfg, args={"round": round_no})
    rows = rows.withColumn("run_id", F.lit(recorder.run_id)).select(*DOMAINS.fieldNames())
    compare = [c for c in DOMAINS.fieldNames() if c != "run_id"]
    changed = rows
    if lake.exists("domains"):
        current = lake.read("domains").where(F.col("round") == round_no).select(*compare).alias("cur")
        same = [F.col(f"new.{c}").eqNullSafe(F.col(f"cur.{c}")) for c in compare]
        changed = rows.alias("new").join(current, same, "left_anti")
    changed = scope.current().persist(changed)
    n_changed = changed.count()
    if n_changed:
        lake.merge("domains", changed, keys=["domain", "round"])
    mine = lake.read("domains").where(F.col("round") == round_no)
    agg = mine.agg(
        F.count("*").alias("domains"), F.sum(F.col("candidate").cast("long")).alias("candidates"),
    ).collect()[0]
    counters = {"domains": int(agg["domains"] or 0), "candidates": int(agg["candidates"] or 0),
                "domains_changed": n_changed, "min_docs": min_docs, "documents_in_domains": int(scored)}
    recorder.finish("ok", counters)
    return counters
