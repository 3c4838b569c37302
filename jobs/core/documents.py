"""Writing documents, as ingest and byte-range fetch both do: the record loop's options
from config, and the commit of a batch of document rows (with their Q&A markup pairs).

A batch is the output of the record loop (lib.ingest.archive) in Spark: rows of kind
`doc` carrying the document fields, `markup` and `markup_errors`. One row per doc_id is
kept (the same page can sit in two archives, or two crawls; the pick follows lineage, so
it is the same on every run), documents already in the table are left out, and the
markup pairs commit before their documents: a run killed in between leaves the pairs,
and the rerun skips their doc_ids.
"""

from __future__ import annotations

from collections import Counter

from pyspark.sql import functions as F
from pyspark.sql.window import Window

from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.tables import DOCUMENTS, QA_MARKUP
from webinstruct.lib.ingest.archive import IngestOptions
from webinstruct.lib.ingest.text_extract import ExtractOptions
from webinstruct.lib.object_store import S3Settings


def ingest_options(cfg: Config) -> IngestOptions:
    c = cfg.ingest
    return IngestOptions(
        reader=c.reader,
        extract=ExtractOptions(extractor=c.extractor, main_content=c.main_content, comments=c.keep_comments),
        languages=tuple(c.languages),
        lang_threshold=c.lang_threshold,
        lid_model=c.lid_model,
        min_words=c.min_words,
        max_chars=c.max_chars,
        max_record_bytes=c.max_record_bytes,
        max_html_bytes=c.max_html_bytes,
        record_seconds=c.record_s,
        archive_seconds=c.archive_s,
        max_archive_bytes=c.max_archive_bytes,
        markup=c.markup,
        qa_text=c.qa_text,
        s3=S3Settings.from_options(cfg.lake.storage_options).public(),
    )


def commit_documents(lake, out, txn_app: str, txn_version: int, run_id: str, started) -> tuple[int, object]:
    """Append the batch's new markup pairs, then its new documents. Returns (markup rows
    written, the documents CommitResult)."""
    docs = out.where(F.col("kind") == "doc")
    first = Window.partitionBy("doc_id").orderBy("warc_path", "warc_offset")
    docs = docs.withColumn("_n", F.row_number().over(first)).where("_n = 1").drop("_n")
    if lake.exists("documents"):
        docs = docs.join(lake.read("documents").select("doc_id"), "doc_id", "left_anti")
    markup = lake.append("qa_markup", _markup_rows(lake, docs, run_id, started), txn=(f"{txn_app}.markup", txn_version))
    docs = docs.select(
        *[F.col(f.name).cast(f.dataType) for f in DOCUMENTS.fields if f.name not in ("run_id", "ingested_at")],
        F.lit(run_id).alias("run_id"),
        F.lit(started).cast("timestamp").alias("ingested_at"),
    )
    return markup.rows, lake.append("documents", docs, txn=(txn_app, txn_version))


def _markup_rows(lake, docs, run_id: str, started):
    """One qa_markup row per (document, answer) of the new documents not already there."""
    rows = docs.select("doc_id", "url", "warc_path", "warc_offset", "warc_record_id",
                       F.explode("markup").alias("m")).select("*", "m.*").drop("m")
    if lake.exists("qa_markup"):
        rows = rows.join(lake.read("qa_markup").select("doc_id").distinct(), "doc_id", "left_anti")
    stamped = rows.withColumn("run_id", F.lit(run_id)).withColumn("ingested_at", F.lit(started).cast("timestamp"))
    return stamped.select(*[F.col(f.name).cast(f.dataType) for f in QA_MARKUP.fields])


def markup_counters(out) -> Counter:
    """Pages with markup pairs, their pairs, and malformed markup by kind, in this batch."""
    docs = out.where(F.col("kind") == "doc")
    sizes = docs.select(F.size("markup").alias("n")).agg(
        F.sum(F.when(F.col("n") > 0, 1).otherwise(0)).alias("pages"), F.sum("n").alias("pairs")).first()
    counters = Counter(markup_pages=sizes["pages"] or 0, markup_pairs=sizes["pairs"] or 0)
    errors = docs.select(F.explode("markup_errors").alias("kind", "n")).groupBy("kind").agg(F.sum("n").alias("n")).collect()
    for row in errors:
        counters[f"markup_error_{row['kind']}"] = row["n"]
    return counters
