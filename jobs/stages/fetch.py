"""Fetch: the selected WARC records, read by byte range -> `documents`, `qa_markup`, `fetches`.

Records are read from `fetch.base_url` + `warc_filename` (https://data.commoncrawl.org/,
s3://commoncrawl/ or a mirror) with HTTP `Range` or S3 ranged GETs. Records of one file
that lie close together share a request (`fetch.merge_gap`, within `fetch.max_span_bytes`);
requests are packed into Spark tasks of about `fetch.task_bytes`; a task keeps at most
`fetch.concurrency` requests in flight and retries 503, 429, SlowDown, timeouts and short
reads with a capped exponential backoff (lib/ingest/range_reader.py). Each range goes
through the record loop whole-file ingest uses, so a fetched page is the same document
(text, doc_id, lineage) as the page read from the whole file.

Every selected record ends with a `fetches` row: ok (a document), dropped (a filter said
no), duplicate (the same URL and content digest from another crawl, fetched once),
refused (an offset or length no request should be made for) or failed (the range could
not be read or parsed; retried by the next run). Incremental and resumable: records are
committed in slices of `fetch.commit_records`; a record with a final row, or already in
`documents` at the same file and offset, or whose URL and digest were fetched before, is
not fetched again, so a killed run redoes at most the slice in flight.

    webinstruct fetch [--base-url URL]
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict

from pyspark.sql import Window
from pyspark.sql import functions as F

from webinstruct.jobs.core import scope
from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.documents import commit_documents, ingest_options, markup_counters
from webinstruct.jobs.core.errors import FetchError
from webinstruct.jobs.core.lake import Lake
from webinstruct.jobs.core.lease import writes
from webinstruct.jobs.core.runs import RunRecorder
from webinstruct.jobs.core.session import parallelism
from webinstruct.jobs.core.tables import FETCH_OUTPUT, FETCHES
from webinstruct.lib.ingest.range_reader import ReadOptions
from webinstruct.lib.ingest.ranges import Wanted, merge, pack, refusal
from webinstruct.lib.object_store import S3Settings
from webinstruct.lib.urls import safe_location
from webinstruct.udfs.fetch import SpanTask, fetch_spans

NAME = "fetches"
SELECTION = "selection"
FINAL = ("ok", "dropped", "duplicate", "refused")  # statuses never fetched again
KEY = ["warc_filename", "warc_record_offset"]


def base_of(cfg: Config, base_url: str | None = None) -> str:
    return (base_url or cfg.fetch.base_url).rstrip("/") + "/"


@writes("fetch")
def run(spark, cfg: Config, lake: Lake, base_url: str | None = None) -> dict:
    base = base_of(cfg, base_url)
    if not lake.exists(SELECTION):
        raise FetchError(f"no table 'selection' in lake {lake.root} (run `webinstruct select` first)")
    recorder = RunRecorder(lake, "fetch", cfg, args={"base_url": safe_location(base)})
    s = scope.current()
    todo = s.materialize(pending(lake, base), "pending")
    counters: Counter = Counter()
    for row in todo.groupBy("_role").count().collect():
        counters[f"records_{row['_role']}"] = int(row["count"])
    if todo.limit(1).count() == 0:
        recorder.finish("ok", counters)
        return dict(counters)
    started = dt.datetime.now(dt.timezone.utc)
    if counters["records_duplicate"] or counters["records_stored"]:
        _commit_unfetched(lake, todo, recorder.run_id, started)
    fetch_now, slices = _sliced(spark, todo.where(F.col("_role") == "fetch"), cfg.fetch.commit_records)
    fetch_now = s.materialize(fetch_now, "slices")
    options = ingest_options(cfg)
    f = cfg.fetch
    read = ReadOptions(timeout_s=f.timeout_s, attempts=f.attempts, backoff_s=f.backoff_s, max_backoff_s=f.max_backoff_s,
                       user_agent=f.user_agent, s3=S3Settings.from_options(cfg.lake.storage_options).public())
    for number in range(slices):
        part = fetch_now.where(F.col("_slice") == number)
        counters.update(_slice(spark, cfg, lake, part, number, base, options, read, recorder.run_id, started))
    counters["slices"] = slices
    counters.update(outcome_counters(lake, recorder.run_id))
    recorder.finish("ok", counters)
    return dict(counters)


def pending(lake: Lake, base: str):
    """Selected records without a final `fetches` row and not fetched before under the same
    URL and digest; `_role` says whether each is fetched now, is a `duplicate` of another
    pending record (same URL and digest, another crawl or capture: the earliest file and
    offset is fetched), or is `stored` (in `documents` at the same file and offset already)."""
    sel = lake.read(SELECTION).dropDuplicates(KEY)
    sel = sel.withColumn("location", F.concat(F.lit(safe_location(base)), F.col("warc_filename")))
    if lake.exists(NAME):
        done = lake.read(NAME).where(F.col("status").isin(*FINAL))
        sel = sel.join(done.select(*KEY), KEY, "left_anti")
        seen = done.where(F.col("status").isin("ok", "dropped") & F.col("content_digest").isNotNull()).select("url", "content_digest")
        sel = sel.join(seen.distinct(), ["url", "content_digest"], "left_anti")
    if lake.exists("documents"):  # read whole before (or by a run killed before its fetches commit)
        stored = lake.read("documents").select(F.col("warc_path").alias("location"), F.col("warc_offset").alias("warc_record_offset"),
                                               F.col("doc_id").alias("_stored_doc")).dropDuplicates(["location", "warc_record_offset"])
        sel = sel.join(stored, ["location", "warc_record_offset"], "left")
    else:
        sel = sel.withColumn("_stored_doc", F.lit(None).cast("string"))
    first = Window.partitionBy("url", "content_digest").orderBy("crawl", "warc_filename", "warc_record_offset")
    ranked = sel.withColumn("_first", F.first(F.struct("warc_filename", "warc_record_offset")).over(first))
    is_copy = F.col("content_digest").isNotNull() & ((F.col("_first.warc_filename") != F.col("warc_filename"))
                                                     | (F.col("_first.warc_record_offset") != F.col("warc_record_offset")))
    role = F.when(F.col("_stored_doc").isNotNull(), F.lit("stored")).when(is_copy, F.lit("duplicate")).otherwise(F.lit("fetch"))
    return ranked.withColumn("_role", role).withColumn(
        "_copy_of", F.when(is_copy, F.concat_ws("@", "_first.warc_filename", F.col("_first.warc_record_offset").cast("string"))))


def _sliced(spark, records, per_slice: int):
    """`records` with a `_slice` number, and how many slices: a file's records stay together
    in chunks of `per_slice` (in offset order), and chunks are packed into slices of about
    `per_slice` records in file-name order. Only the chunk counts come to the driver."""
    chunked = records.withColumn("_chunk", F.floor((F.row_number().over(
        Window.partitionBy("warc_filename").orderBy("warc_record_offset")) - 1) / per_slice).cast("long"))
    counts = chunked.groupBy("warc_filename", "_chunk").count().orderBy("warc_filename", "_chunk").collect()
    plan, number, size = [], 0, 0
    for row in counts:
        if size and size + row["count"] > per_slice:
            number, size = number + 1, 0
        plan.append((row["warc_filename"], row["_chunk"], number))
        size += row["count"]
    assignment = spark.createDataFrame(plan, "warc_filename string, _chunk long, _slice long")
    return chunked.join(assignment, ["warc_filename", "_chunk"]), (number + 1 if plan else 0)


def _commit_unfetched(lake: Lake, todo, run_id: str, started) -> None:
    """The records settled without a request: copies of another pending record, and records
    `documents` holds already at the same file and offset."""
    rows = todo.where(F.col("_role").isin("duplicate", "stored"))
    stored = F.col("_role") == "stored"
    rows = rows.select(*KEY, "url", "content_digest", "crawl", "location",
                       F.when(stored, F.lit("ok")).otherwise(F.lit("duplicate")).alias("status"),
                       F.when(stored, F.lit("in documents already (same file and offset)")).otherwise(
                           F.concat(F.lit("same URL and content digest as "), F.col("_copy_of"))).alias("reason"),
                       F.when(stored, F.col("_stored_doc")).alias("doc_id"), F.lit(None).cast("long").alias("span_start"),
                       F.lit(None).cast("long").alias("span_bytes"), F.lit(run_id).alias("run_id"),
                       F.lit(started).cast("timestamp").alias("fetched_at"))
    lake.append(NAME, rows.select(*FETCHES.fieldNames()), txn=(f"webinstruct.fetch.duplicates.{run_id}", 0))


def _slice(spark, cfg: Config, lake: Lake, part, number: int, base: str, options, read: ReadOptions, run_id: str,
           started) -> Counter:
    """Fetch one slice of records and commit it: documents (and markup), then `fetches`."""
    f = cfg.fetch
    counters: Counter = Counter()
    rows = part.select(*KEY, "warc_record_length", "crawl").collect()  # at most about fetch.commit_records
    by_file: dict[str, list[Wanted]] = defaultdict(list)
    crawl_of: dict[str, str] = {}
    refused = []
    for r in rows:
        crawl_of[r["warc_filename"]] = r["crawl"]
        wanted = Wanted(int(r["warc_record_offset"]), int(r["warc_record_length"] or 0))
        problem = refusal(wanted, f.max_record_bytes)
        if problem:
            refused.append((r["warc_filename"], wanted.offset, problem))
        else:
            by_file[r["warc_filename"]].append(wanted)
    spans = {name: merge(records, f.merge_gap, f.max_span_bytes) for name, records in by_file.items()}
    total = sum(span.length for file_spans in spans.values() for span in file_spans)
    counters["bytes_selected"] = sum(w.length for records in by_file.values() for w in records)
    task_bytes = max(1024, min(f.task_bytes, math.ceil(total / parallelism(spark)) if total else f.task_bytes))
    tasks = [[SpanTask(name, base + name, span, crawl_of.get(name)) for name, span in task] for task in pack(spans, task_bytes)]
    s = scope.current()
    outcome = None
    if tasks:
        fn = fetch_spans(tasks, options, read, f.concurrency, FETCH_OUTPUT, cfg.ingest.batch_rows)
        out = s.persist(spark.range(0, len(tasks), 1, numPartitions=len(tasks)).mapInArrow(fn, FETCH_OUTPUT))
        markup, docs = commit_documents(lake, out, f"webinstruct.fetch.{run_id}", number, run_id, started)
        counters.update(documents_written=docs.rows, markup_pairs_written=markup)
        counters.update(markup_counters(out))
        for task in out.where(F.col("kind") == "task").select("task").collect():
            counters.update({k: int(v) for k, v in (task["task"] or {}).items()})
        outcome = out.where(F.col("kind") == "record").select("record.*")
    records = _fetch_rows(spark, part, outcome, refused, run_id, started)
    commit = lake.append(NAME, records.select(*FETCHES.fieldNames()), txn=(f"webinstruct.fetch.records.{run_id}", number))
    counters["fetch_rows_written"] = commit.rows
    if tasks:
        s.release(out)
    return counters


def _fetch_rows(spark, part, outcome, refused, run_id: str, started):
    cols = ["warc_filename", "warc_record_offset", "status", "reason", "doc_id", "span_start", "span_bytes"]
    frames = []
    if outcome is not None:
        frames.append(outcome.select(*cols))
    if refused:
        frames.append(spark.createDataFrame([(name, offset, "refused", why, None, None, None) for name, offset, why in refused],
                                            "warc_filename string, warc_record_offset long, status string, reason string, "
                                            "doc_id string, span_start long, span_bytes long"))
    if not frames:
        return spark.createDataFrame([], FETCHES)
    settled = frames[0]
    for frame in frames[1:]:
        settled = settled.unionByName(frame)
    info = part.select(*KEY, "url", "content_digest", "crawl", "location")
    return settled.join(info, KEY, "left").withColumn("run_id", F.lit(run_id)).withColumn(
        "fetched_at", F.lit(started).cast("timestamp"))


def outcome_counters(lake: Lake, run_id: str) -> Counter:
    """Per status and reason, what this run wrote to `fetches`."""
    counters: Counter = Counter()
    if not lake.exists(NAME):
        return counters
    rows = lake.read(NAME).where(F.col("run_id") == run_id).groupBy("status", "reason").count().collect()
    for r in rows:
        counters[r["status"]] += int(r["count"])
        if r["status"] == "dropped":
            counters[f"drop_{r['reason']}"] += int(r["count"])
    return counters


def summary_rows(counters: dict, lake: Lake | None = None) -> list[tuple[str, object]]:
    g = counters.get
    rows = [
        ("selected records to fetch (new)", g("records_fetch", 0)),
        ("  duplicates of another crawl's record (not fetched)", g("records_duplicate", 0)),
        ("  in documents already (not fetched)", g("records_stored", 0)),
        ("requests (retries included)", g("requests", 0)),
        ("  retried (503, 429, SlowDown, timeouts, short reads)", g("retries", 0)),
        ("bytes fetched / of selected records", f"{g('bytes', 0) / 1e6:,.2f} / {g('bytes_selected', 0) / 1e6:,.2f} MB"),
        ("records: ok / dropped / failed / refused", f"{g('ok', 0)} / {g('dropped', 0)} / {g('failed', 0)} / {g('refused', 0)}"),
        ("documents written (new)", g("documents_written", 0)),
        ("markup pairs written (new)", g("markup_pairs_written", 0)),
    ]
    errors = sorted((k[len("error_"):], v) for k, v in counters.items() if k.startswith("error_") and v)
    rows += [(f"  request errors: {reason}", n) for reason, n in errors]
    drops = sorted((k[len("drop_"):], v) for k, v in counters.items() if k.startswith("drop_") and v)
    rows += [(f"  dropped: {reason}", n) for reason, n in drops]
    return rows
