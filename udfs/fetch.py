"""mapInArrow function for byte-range fetch: each input row is the index of one task, a
list of spans (one request each) of WARC files. The spans are read with a bounded number
of requests in flight (lib.ingest.range_reader) and each one, as it arrives, goes through
the same record loop as whole-file ingest (lib.ingest.archive), offset to where the span
starts in its file and keeping only the records selected in it. Out come document rows,
one row per selected record with what became of it, and one row of request counters.
"""

from __future__ import annotations

import functools
import io
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterator

import pyarrow as pa
from pyspark.sql.pandas.types import to_arrow_schema

from webinstruct.lib.ingest.archive import ArchiveProcessor, FileReport, IngestOptions
from webinstruct.lib.ingest.range_reader import RangeReader, ReadOptions, read_many
from webinstruct.lib.ingest.ranges import Span
from webinstruct.lib.urls import safe_location


@dataclass(frozen=True)
class SpanTask:
    filename: str  # warc_filename, as the index gives it
    location: str  # where it is read from: the base URL joined with the filename
    span: Span
    crawl: str | None = None  # the index's crawl of the file: the documents' crawl


@functools.lru_cache(maxsize=2)
def _processor(options: IngestOptions) -> ArchiveProcessor:
    """One per Python worker and options: the language model loads once."""
    return ArchiveProcessor(options)


def fetch_spans(tasks: list[list[SpanTask]], options: IngestOptions, read: ReadOptions, concurrency: int,
                output_schema, batch_rows: int = 256) -> Callable:
    """Build the mapInArrow function; `tasks` travels with it (indexes come from spark.range)."""
    schema = to_arrow_schema(output_schema, timezone="UTC")

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        processor = _processor(options)
        for batch in batches:
            for index in batch.column(0).to_pylist():
                yield from _task_batches(processor, tasks[index], read, concurrency, schema, batch_rows)

    return run


def _task_batches(processor, task: list[SpanTask], read: ReadOptions, concurrency: int, schema, batch_rows: int):
    counters: Counter = Counter()
    reader = RangeReader(read, counters)
    rows: list[dict] = []
    for item, data, error in read_many(reader, task, lambda t: (t.location, t.span.start, t.span.length), concurrency):
        rows.extend(_span_rows(processor, item, data, error))
        if len(rows) >= batch_rows:
            yield pa.RecordBatch.from_pylist(rows, schema=schema)
            rows = []
    counters["spans"] += len(task)
    rows.append({"kind": "task", "task": dict(counters)})
    yield pa.RecordBatch.from_pylist(rows, schema=schema)


def _record_row(item: SpanTask, offset: int, status: str, reason: str | None, doc_id: str | None = None) -> dict:
    return {"kind": "record", "record": {"warc_filename": item.filename, "warc_record_offset": offset, "status": status,
                                         "reason": reason, "doc_id": doc_id, "span_start": item.span.start,
                                         "span_bytes": item.span.length}}


def _span_rows(processor: ArchiveProcessor, item: SpanTask, data: bytes | None, error) -> list[dict]:
    wanted = [r.offset for r in item.span.records]
    if error is not None:
        reason = f"{error.reason}: {error}"[:1000]
        return [_record_row(item, offset, "failed", reason) for offset in wanted]
    report = FileReport(path=safe_location(item.location), outcomes={})
    rows, kept = [], {}
    for doc in processor.process(item.location, report, opener=lambda _: io.BytesIO(data), base_offset=item.span.start,
                                 only=set(wanted)):
        doc["kind"] = "doc"
        doc["crawl"] = item.crawl or doc.get("crawl")
        rows.append(doc)
        kept[doc["warc_offset"]] = doc["doc_id"]
    for offset in wanted:
        outcome = report.outcomes.get(offset)
        if outcome == "kept":
            rows.append(_record_row(item, offset, "ok", None, kept.get(offset)))
        elif outcome is not None:
            rows.append(_record_row(item, offset, "dropped", outcome))
        else:  # the span ended (truncated, corrupt) before this record, or no record starts there
            why = report.error or "no WARC record starts at this offset"
            rows.append(_record_row(item, offset, "failed", f"unparseable: {why}"[:1000]))
    return rows
