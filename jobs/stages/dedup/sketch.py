"""Phase 1, sketch: each new document's normalised-text hash, shingle count, MinHash band
keys (and, with verification, its shingle set), computed in mapInArrow and materialised
once with a 64-bit node id per document."""

from __future__ import annotations

from collections import Counter

from pyspark.sql import functions as F
from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.errors import DedupError, MissingInput
from webinstruct.jobs.core.lake import Lake
from webinstruct.jobs.core.tables import DEDUP_SKETCH
from webinstruct.jobs.core.views import read_source, recall_current
from webinstruct.jobs.stages.dedup.settings import Materializer, timed
from webinstruct.lib.dedup.minhash import LshParams
from webinstruct.udfs.dedup import sketch_documents

ARROW_BATCH = "spark.sql.execution.arrow.maxRecordsPerBatch"


def read_input(lake: Lake, name: str):
    try:
        return read_source(lake, "dedup.input", name)
    except MissingInput as exc:
        raise DedupError(str(exc)) from None


def recall_scores(lake: Lake):
    """(doc_id, score) from the final recall round's current model, when recall has run; else None."""
    if not lake.exists("recall_scores"):
        return None
    return recall_current(lake).groupBy("doc_id").agg(F.max("score").alias("score"))


def new_documents(lake: Lake, source, stored):
    """(doc_id, fetch_time, score, text) of the input's documents not in `dedup` yet."""
    docs = source.select("doc_id", "fetch_time", "text")
    if stored is not None:
        docs = docs.join(stored.select("doc_id"), "doc_id", "left_anti")
    scores = recall_scores(lake)
    if scores is not None:
        return docs.join(scores, "doc_id", "left")
    return docs.withColumn("score", F.lit(None).cast("double"))


def sketch(spark, cfg: Config, docs, params: LshParams, materialize: Materializer, counters: Counter):
    """DEDUP_SKETCH rows plus `node` (xxhash64 of doc_id), materialised. Batches are
    `dedup.batch_rows` documents, whatever the session's Arrow setting."""
    before = spark.conf.get(ARROW_BATCH, None)
    spark.conf.set(ARROW_BATCH, str(cfg.dedup.batch_rows))
    try:
        fn = sketch_documents(params, cfg.dedup.verify, DEDUP_SKETCH)
        sk = docs.select("doc_id", "fetch_time", "score", "text").mapInArrow(fn, DEDUP_SKETCH)
        with timed(counters, "ms_sketch"):
            sk = materialize(sk.withColumn("node", F.xxhash64("doc_id")), "sketches")
    finally:
        if before is None:
            spark.conf.unset(ARROW_BATCH)
        else:
            spark.conf.set(ARROW_BATCH, before)
    n, nodes = sk.agg(F.count("*"), F.countDistinct("node")).collect()[0]
    if nodes != n:  # 64-bit node ids: about 3% odds of any collision at 10^9 documents
        raise DedupError(f"{n - nodes} node id collision(s) among {n} new documents; run them in smaller batches")
    counters["documents_in"] = n
    return sk
