"""Views derived from the tables, registered next to them for SQL and read by later stages.

* `documents_dedup`: the documents dedup kept (one per cluster); what extraction reads.
* `documents_recalled`: the documents recall selected (config `recall.recalled`); what
  dedup reads.
* `recall_current`: per document, the score of the final round's current model.
* `dedup_clusters`: one row per duplicate cluster with its current size and keeper. The
  `dedup` table is append-only, so its `cluster_size` is the size when the row was
  written; a later batch that joins an old cluster shows up here.

Also the readers later stages share instead of importing each other: the current
extracted pairs (`current_pairs`) and the refined pairs that count (`refined_pairs`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

from pyspark.sql import Window
from pyspark.sql import functions as F

from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.errors import MissingInput
from webinstruct.lib.qa.gate import GateOptions


def documents_dedup(lake):
    keepers = lake.read("dedup").where("is_keeper").select("doc_id")
    return lake.read("documents").join(keepers, "doc_id", "left_semi")


def dedup_clusters(lake):
    return lake.read("dedup").groupBy("cluster_id").agg(
        F.count("*").alias("size"),
        F.sum(F.when(F.col("reason") == "exact", 1).otherwise(0)).alias("exact_dups"),
        F.sum(F.when(F.col("reason") == "near", 1).otherwise(0)).alias("near_dups"),
        F.max(F.when(F.col("is_keeper"), F.col("doc_id"))).alias("keeper"),
    )


def current_models(lake):
    """The model each round uses now: the latest trained for it (`models`, kind recall)."""
    models = lake.read("models").where(F.col("kind") == "recall")
    latest = Window.partitionBy("round").orderBy(F.col("created_at").desc(), F.col("model_id"))
    return models.withColumn("_n", F.row_number().over(latest)).where("_n = 1").drop("_n")


def recall_current(lake):
    """(doc_id, round, score, model_id) from the final round's current model. Scores of
    older models stay in `recall_scores` as history; only these count."""
    scores = lake.read("recall_scores")
    if lake.exists("models"):
        # the final round: the highest configured round whose current model has scored
        scored = scores.select("model_id").distinct()
        current = current_models(lake).where(F.col("round") <= _config(lake).recall.rounds).join(scored, "model_id", "left_semi")
        final = current.agg(F.max("round").alias("round"))
        chosen = current.join(final, "round").select("round", "model_id")
        return scores.join(chosen, ["round", "model_id"], "left_semi")
    final = scores.agg(F.max("round").alias("round"))  # scores written without a models table
    return scores.join(final, "round", "left_semi")


def domain_verdicts(lake):
    """One verdict per domain (any round, model or prompt version): the latest `ok` one,
    else the latest attempt. A later failed reply never erases an earlier verdict."""
    order = Window.partitionBy("domain").orderBy((F.col("status") == "ok").desc(), F.col("run_id").desc())
    rows = lake.read("domain_verdicts")
    return rows.withColumn("_n", F.row_number().over(order)).where("_n = 1").drop("_n")


def config_of(lake):
    """The config the lake was opened with (defaults when a caller set none)."""
    return getattr(lake, "config", None) or Config()


_config = config_of


def _recalled_needs(lake) -> tuple[str, ...]:
    return ("documents",) if _config(lake).recall.recalled == "all" else ("documents", "recall_scores")


def documents_recalled(lake):
    cfg = _config(lake)
    mode, threshold = cfg.recall.recalled, cfg.recall.threshold
    docs = read_source(lake, "recall.input", cfg.recall.input)
    if mode == "all":
        return docs
    hits = recall_current(lake).where(F.col("score") >= threshold).select("doc_id")
    verdicts = domain_verdicts(lake).where("status = 'ok'") if lake.exists("domain_verdicts") else None
    if mode == "score" or verdicts is None:
        return docs.join(hits, "doc_id", "left_semi")
    if mode == "score_and_domain":
        rejected = verdicts.where(~F.col("educational")).select("domain")
        return docs.join(hits, "doc_id", "left_semi").join(rejected, "domain", "left_anti")
    accepted = verdicts.where(F.col("educational")).select("domain")
    by_domain = docs.join(accepted, "domain", "left_semi").select("doc_id")
    return docs.join(hits.unionByName(by_domain), "doc_id", "left_semi")


def documents_clean(lake):
    """The page-level input minus pages tier 1 found contaminated under the latest page
    check (the benchmark set of the last `decontam pages`); what extraction reads."""
    cfg = _config(lake)
    docs = read_source(lake, "decontam.page_input", cfg.decontam.page_input)
    if not cfg.decontam.pages or not lake.exists("contamination") or not lake.exists("decontam_checked"):
        return docs
    checked = lake.read("decontam_checked").where(F.col("level") == "page")
    last = checked.agg(F.max("run_id")).collect()[0][0]
    latest = checked.where(F.col("run_id") == last).select("check_key").limit(1).collect() if last else []
    if not latest:
        return docs
    hits = lake.read("contamination").where(
        (F.col("level") == "page") & (F.col("verdict") == "contaminated") & (F.col("check_key") == latest[0][0]))
    return docs.join(hits.select("doc_id"), "doc_id", "left_anti")


def _clean_needs(lake) -> tuple[str, ...]:
    name = _config(lake).decontam.page_input
    return _needed(DERIVED[name][0], lake) if name in DERIVED else (name,)


DERIVED = {
    "documents_recalled": (_recalled_needs, documents_recalled),
    "recall_current": (("recall_scores",), recall_current),
    "documents_dedup": (("documents", "dedup"), documents_dedup),
    "dedup_clusters": (("dedup",), dedup_clusters),
    "documents_clean": (_clean_needs, documents_clean),
}


def register_derived(lake) -> list[str]:
    names = []
    for name, (needs, build) in DERIVED.items():
        if all(lake.exists(t) for t in _needed(needs, lake)):
            build(lake).createOrReplaceTempView(name)
            names.append(name)
    return names


def _needed(needs, lake) -> tuple[str, ...]:
    return needs(lake) if callable(needs) else needs


def read_source(lake, key: str, name: str):
    """The table or derived view a stage reads (config key `key` names it), or MissingInput."""
    if name in DERIVED:
        needs, build = DERIVED[name]
        missing = [t for t in _needed(needs, lake) if not lake.exists(t)]
        if missing:
            raise MissingInput(f"{key} {name!r} needs table(s) {', '.join(missing)} (run the stages that write them first)")
        return build(lake)
    if not lake.exists(name):
        raise MissingInput(f"{key}: no table {name!r} in lake {lake.root} (run ingest first)")
    return lake.read(name)


def latest_attempt(df, keys: list[str]):
    """Rows of the latest run per `keys` (run ids sort by start time). A retried record
    keeps its earlier rows as history; readers want only the attempt that counts."""
    latest = df.groupBy(*keys).agg(F.max("run_id").alias("run_id"))
    return df.join(latest, [*keys, "run_id"], "left_semi")


def current_pairs(lake):
    """qa_extracted as it stands: per document, model and prompt version, the rows of the
    latest attempt only (what refine and later stages read)."""
    return latest_attempt(lake.read("qa_extracted"), ["doc_id", "model", "prompt_version"])


def gate_options(cfg: Config) -> GateOptions:
    """The gate's thresholds from config (gate.* keys of the same names); their key marks qa_quality rows."""
    names = [f.name for f in dataclasses.fields(GateOptions) if f.name != "checks"]
    return GateOptions(**{n: getattr(cfg.gate, n) for n in names}, checks=tuple(cfg.gate.checks))


def markup_signal(lake):
    """Per (page, question) of qa_markup: whether an answer is accepted, and the most votes."""
    return lake.read("qa_markup").groupBy("doc_id", F.col("question").alias("orig_question")).agg(
        F.max(F.col("accepted").cast("int")).cast("boolean").alias("accepted"), F.max("votes").cast("long").alias("votes"))


def gate_key(cfg: Config) -> str:
    """What a qa_quality row was computed under: the gate's thresholds, the encoder, the
    language model and the pair-dedup sketch settings. Changing any of them re-checks.
    (The quality weights are applied when publishing, so changing them re-checks nothing.)"""
    g = cfg.gate
    extra = json.dumps([g.dedup_threshold, g.dedup_ngram, cfg.dedup.num_perm, cfg.dedup.seed, cfg.decontam.embed_model,
                        cfg.ingest.lid_model])
    return gate_options(cfg).key() + "-" + hashlib.blake2b(extra.encode(), digest_size=4).hexdigest()


def pair_hash():
    """The refined texts a qa_quality row checked: a new rewrite gets a new row."""
    return F.sha2(F.concat_ws("\x1f", F.coalesce("question", F.lit("")), F.coalesce("answer", F.lit(""))), 256)


def quality_current(lake, cfg: Config, refined=None):
    """qa_quality rows for the refined texts as they stand, under the current gate settings
    (`refined`: the caller's `refined_pairs(lake)`, when it has read it already)."""
    key = gate_key(cfg)
    rows = lake.read("qa_quality").where(F.col("gate_key") == key)
    pairs = (refined if refined is not None else refined_pairs(lake)).withColumn("pair_hash", pair_hash()).select("qa_id", "refiner", "pair_hash")
    return rows.join(pairs, ["qa_id", "refiner", "pair_hash"], "left_semi").dropDuplicates(["qa_id", "refiner"])


def refined_pairs(lake):
    """The latest attempt of every (pair, refiner) that refined ok."""
    rows = latest_attempt(lake.read("qa_refined"), ["qa_id", "refiner"]).where(F.col("status") == "ok")
    return rows.dropDuplicates(["qa_id", "refiner"])
