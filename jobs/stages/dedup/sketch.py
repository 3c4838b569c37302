"""Phase 1, sketch: each new document's normalised-text hash, shingle count, MinHash band
keys (and, with verification, its shingle set), computed in mapInArrow and materialised
once with a 64-bit node id per document."""

from __future__ import annotations

from typing import Callable

from collections import Counter
from contextlib import contextmanager

from pyspark.sql import functions as F

from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.errors import DedupError, MissingInput
from webinstruct.jobs.core.lake import Lake
from webinstruct.jobs.core.tables import DEDUP_SKETCH
from webinstruct.jobs.core.views import read_source, recall_current
from webinstruct.jobs.stages.dedup.settings import timed
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


def rows_per_batch(cfg: Config, texts_per_row: int) -> int:
    """Arrow batch rows that keep a batch under dedup.batch_bytes when every text is as
    long as ingest.max_chars allows (4 bytes a character at worst)."""
    worst = 4 * cfg.ingest.max_chars * texts_per_row
    return max(1, min(cfg.dedup.batch_rows, cfg.dedup.batch_bytes // worst))


@contextmanager
def arrow_batch_rows(spark, rows: int):
    """Spark's Arrow batch size for the frames built inside, then the session's own."""
    before = spark.conf.get(ARROW_BATCH, None)
    spark.conf.set(ARROW_BATCH, str(rows))
    try:
        yield
    finally:
        if before is None:
            spark.conf.unset(ARROW_BATCH)
        else:
            spark.conf.set(ARROW_BATCH, before)


def new_documents(lake: Lake, source, stored):
    """(doc_id, fetch_time, score, text) of the input's documents not in `dedup` yet, one
    row per doc_id (a table written by two runs at once may hold a page twice; a true
    64-bit collision between different ids stays an error in `sketch`)."""
    docs = source.select("doc_id", "fetch_time", "text").dropDuplicates(["doc_id"])
    if stored is not None:
        docs = docs.join(stored.select("doc_id"), "doc_id", "left_anti")
    scores = recall_scores(lake)
    if scores is not None:
        return docs.join(scores, "doc_id", "left")
    return docs.withColumn("score", F.lit(None).cast("double"))


def sketch(spark, cfg: Config, docs, params: LshParams, materialize: Callable, counters: Counter):
    """DEDUP_SKETCH rows plus `node` (xxhash64 of doc_id), materialised. Batches are sized
    by dedup.batch_rows and dedup.batch_bytes, whatever the session's Arrow setting."""
    with arrow_batch_rows(spark, rows_per_batch(cfg, 1)):
        fn = sketch_documents(params, cfg.dedup.verify, DEDUP_SKETCH, cfg.dedup.memo_bytes)
        sk = docs.select("doc_id", "fetch_time", "score", "text").mapInArrow(fn, DEDUP_SKETCH)
        with timed(counters, "ms_sketch"):
            sk = materialize(sk.withColumn("node", F.xxhash64("doc_id")), "sketches")
    n, nodes = sk.agg(F.count("*"), F.countDistinct("node")).collect()[0]
    if nodes != n:  # 64-bit node ids: about 3% odds of any collision at 10^9 documents
        raise DedupError(f"{n - nodes} node id collision(s) among {n} new documents; run them in smaller batches")
    counters["documents_in"] = n
    return sk
