"""The published set: `webinstruct` rebuilt from the refined pairs the quality gate passed
and every enabled tier has checked and none flagged, one per duplicate group (pair-level
dedup, jobs/core/pair_dedup.py; and one per group of rewordings, jobs/core/semdedup.py), with
personal data redacted (or those pairs left out:
`pii.mode`, jobs/core/pii.py) and lineage to the WARC record; an unchanged result writes
nothing."""

from __future__ import annotations

from pyspark.sql import functions as F

from webinstruct.jobs.core import pii, scope, semdedup
from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.contamination import CHECKED, current_contamination
from webinstruct.jobs.core.lease import writes
from webinstruct.jobs.core.pair_dedup import dedup_pairs
from webinstruct.jobs.core.tables import SEMDEDUP_GROUPS, WEBINSTRUCT
from webinstruct.jobs.core.views import current_pairs, markup_signal, quality_current, recall_current, refined_pairs
from webinstruct.jobs.stages.decontam.bench import Bench
from webinstruct.jobs.stages.decontam.tiers import unit_id

PUBLISHED = "webinstruct"


@writes("decontam")
def publish(spark, cfg: Config, lake, bench: Bench | None, run_id: str = "manual", refined=None) -> dict:
    """Rebuild `webinstruct` from the refined pairs (`refined`: the caller's materialized
    `refined_pairs`, if it has one); write only when the result changed.

    Every input table is read once and the candidate set is materialized before pair-level
    dedup, which uses it a dozen times: inlined, its lineage (a dozen joins over the same
    tables) made a plan of ~600 joins and ~580 broadcast exchanges, built concurrently on
    the driver, that ran a 4 GB driver out of heap on a dozen pairs."""
    d = cfg.decontam
    materialize = scope.current().materialize
    refined = refined if refined is not None else materialize(refined_pairs(lake), "refined")
    pairs = refined
    if bench is not None:
        current = current_contamination(lake, bench.keys if bench else None, cfg)
        needs = [(1, bench.key("pair", 1))] + ([(2, bench.key("pair", 2))] if d.embed else [])
        pairs = pairs.withColumn("unit_id", unit_id("pair"))
        for tier, key in needs:  # a pair not checked yet by an enabled tier waits
            if not lake.exists(CHECKED):
                pairs = pairs.limit(0)
                break
            done = lake.read(CHECKED).where((F.col("level") == "pair") & (F.col("tier") == tier) & (F.col("check_key") == key))
            pairs = pairs.join(done.select("unit_id"), "unit_id", "left_semi")
        pairs = pairs.drop("unit_id")
        if current is not None:
            bad = F.col("verdict") == "contaminated"
            if d.unparsed == "drop":
                bad = bad | ((F.col("tier") == 3) & (F.col("verdict") == "unparsed"))
            pages = current.where((F.col("level") == "page") & bad).select("doc_id").distinct()
            flagged = current.where((F.col("level") == "pair") & bad).select("qa_id", "refiner").distinct()
            pairs = pairs.join(pages, "doc_id", "left_anti").join(flagged, ["qa_id", "refiner"], "left_anti")
            if d.embed and d.judge:  # candidates the judge has not decided yet wait
                cands = current.where((F.col("tier") == 2) & (F.col("verdict") == "candidate")).select("qa_id", "refiner", "benchmark", "item_id")
                decided = current.where(F.col("tier") == 3).select("qa_id", "refiner", "benchmark", "item_id")
                waiting = cands.join(decided, ["qa_id", "refiner", "benchmark", "item_id"], "left_anti").select("qa_id", "refiner").distinct()
                pairs = pairs.join(waiting, ["qa_id", "refiner"], "left_anti")
    pairs = _gated(spark, cfg, lake, pairs, refined)
    docs = lake.read("documents").select("doc_id", "url", "domain", "crawl", "warc_path", "warc_offset", "warc_record_id",
                                         "fetch_time")
    extracted = current_pairs(lake)
    method = F.coalesce(F.col("method"), F.lit("llm")) if "method" in extracted.columns else F.lit("llm")
    extracted = extracted.select("qa_id", F.col("model").alias("extract_model"), method.alias("method"),
                                 F.col("prompt_version").alias("extract_prompt_version")).dropDuplicates(["qa_id"])
    out = materialize(pairs.join(docs, "doc_id", "left").join(extracted, "qa_id", "left"), "candidates")
    if cfg.gate.dedup and "band_keys" in out.columns:
        published = (lake.read(PUBLISHED).select("qa_id", "refiner", F.lit(True).alias("_published"))
                     if lake.exists(PUBLISHED) else None)
        ranked = out.join(published, ["qa_id", "refiner"], "left") if published is not None else out.withColumn("_published", F.lit(None))
        ranked = ranked.select(
            "qa_id", "refiner", "exact_key", "band_keys", "shingle_set", "number_key",
            F.coalesce("_published", F.lit(False)).alias("_published"),
            F.col("_accepted"), F.col("_votes"), F.col("score").alias("_score"), F.col("fetch_time").alias("_fetch"))
        kept = dedup_pairs(ranked, cfg.gate.dedup_threshold, materialize)
        out = out.join(kept, ["qa_id", "refiner"], "inner")
    else:
        out = out.withColumn("duplicates", F.lit(0).cast("long"))
    out = out.withColumn("quality", _quality(cfg, lake, out) if "score" in out.columns else F.lit(None).cast("double"))
    checked = pii.check(spark, cfg, lake, out, run_id) if pii.enabled(cfg) else {}  # what the pii step has not seen yet
    before = out.count() if cfg.pii.mode == "drop" else 0
    if cfg.pii.mode == "drop":  # before semantic dedup, so a dropped pair never stands for its rewordings
        out = pii.apply(lake, cfg, out)
        dropped = before - out.count()
    sem = {}
    if semdedup.enabled(cfg):  # rewordings of one question: one pair each (keeper: already published, then quality)
        old = lake.read(PUBLISHED).select("qa_id", "refiner") if lake.exists(PUBLISHED) else None
        out, sem = semdedup.collapse(spark, cfg, lake, out, old, run_id)
    elif lake.exists(semdedup.GROUPS):  # off now: nothing was left out as a rewording
        semdedup.replace_if_changed(lake, spark.createDataFrame([], SEMDEDUP_GROUPS))
    if cfg.pii.mode == "redact":  # the texts as published; the embeddings and keys above read the refined ones
        out = pii.apply(lake, cfg, out)
    out = (
        out.withColumn("index", F.xxhash64("qa_id", "refiner").bitwiseAND(F.lit(0x7FFFFFFFFFFFFFFF)))
        .withColumn("source", F.coalesce("domain", F.lit("")))
        .withColumn("refine_prompt_version", F.col("prompt_version"))
        .select(*WEBINSTRUCT.fieldNames())
    )
    out = materialize(out, "published")
    total = out.count()
    pending = gate_pending(cfg, lake, refined)
    result = {"published": total, "gate_pending": pending, "pii_checked_at_publish": checked.get("pii_checked", 0), **sem}
    if cfg.pii.mode == "drop":
        result["pii_dropped"] = dropped
    if lake.exists(PUBLISHED):
        old = lake.read(PUBLISHED)
        same_shape = old.columns == WEBINSTRUCT.fieldNames()
        if same_shape and old.count() == total and out.exceptAll(old).limit(1).count() == 0:
            return {**result, "published_changed": 0}
    lake.replace(PUBLISHED, out)
    return {**result, "published_changed": 1}


def _gated(spark, cfg: Config, lake, pairs, refined):
    """Refined pairs with their current qa_quality row; with the gate on, only those that
    passed (a pair the gate has not checked yet waits for `webinstruct gate`). With it off,
    every pair, its gate figures where it has them."""
    if not lake.exists("qa_quality"):
        if cfg.gate.enabled:
            return pairs.limit(0).withColumn("quality", F.lit(None).cast("double"))
        return pairs
    quality = quality_current(lake, cfg, refined)
    if cfg.gate.enabled:
        quality = quality.where("passed")
    rows = quality.select("qa_id", "refiner", "score", "exact_key", "band_keys", "shingle_set", "number_key")
    out = pairs.join(rows, ["qa_id", "refiner"], "inner" if cfg.gate.enabled else "left")
    # a pair without gate figures is its own exact group and has no near candidates
    out = out.withColumn("exact_key", F.coalesce("exact_key", F.concat_ws("\x1f", "qa_id", "refiner")))
    if lake.exists("recall_scores"):
        scores = recall_current(lake).groupBy("doc_id").agg(F.max("score").alias("_recall"))
        out = out.join(scores, "doc_id", "left")
    markup = _markup_signal(lake)
    return out.join(markup, ["doc_id", "orig_question"], "left") if markup is not None else \
        out.withColumn("_accepted", F.lit(None).cast("boolean")).withColumn("_votes", F.lit(None).cast("long"))


def _quality(cfg: Config, lake, out):
    """The published quality figure, from today's recall scores: gate score, the page's
    recall score and the markup vote signal, weighted by gate.*_weight."""
    g = cfg.gate
    votes = (F.when(F.col("_accepted"), F.lit(1.0))
             .when(F.col("_votes") > 0, F.least(F.lit(1.0), F.log1p(F.col("_votes").cast("double")) / F.log1p(F.lit(10.0))))
             .otherwise(F.lit(0.0)))
    recall = F.coalesce(F.col("_recall"), F.lit(0.0)) if "_recall" in out.columns else F.lit(0.0)
    value = g.score_weight * F.coalesce(F.col("score"), F.lit(0.0)) + g.recall_weight * recall + g.votes_weight * votes
    return F.round(value, 4)


def gate_pending(cfg: Config, lake, refined=None) -> int:
    """Refined pairs that wait for the gate before they can be published."""
    if not cfg.gate.enabled or not lake.exists("qa_refined"):
        return 0
    pairs = refined if refined is not None else refined_pairs(lake)
    if not lake.exists("qa_quality"):
        return pairs.count()
    return pairs.join(quality_current(lake, cfg, pairs).select("qa_id", "refiner"), ["qa_id", "refiner"], "left_anti").count()


def _markup_signal(lake):
    if not lake.exists("qa_markup"):
        return None
    return markup_signal(lake).withColumnRenamed("accepted", "_accepted").withColumnRenamed("votes", "_votes")
