"""mapInArrow function for ingest: each input row is an index into the archive list, and
each Spark task processes its one archive with lib.ingest.archive, streaming documents
out in Arrow batches followed by one report row for the file.

A worker that dies inside an archive (OOM kill, segfault in a C parser) raises nothing we
could catch; Spark only retries the task. So the retry itself decides: once enough earlier
attempts of the task died, the archive is reported `failed` without being read again, and
the job finishes with a row for it instead of failing on spark.task.maxFailures.
"""

from __future__ import annotations

import functools
from typing import Callable, Iterator

import pyarrow as pa
from pyspark import TaskContext
from pyspark.sql.pandas.types import to_arrow_schema

from webinstruct.lib.ingest.archive import ArchiveProcessor, FileReport, IngestOptions
from webinstruct.lib.urls import safe_location

LOST_ATTEMPTS_ERROR = (
    "{n} earlier attempts died while reading this archive (worker lost or killed); not read again "
    "in this run: a later run retries it only while ingest.retry_statuses includes 'failed'"
)


@functools.lru_cache(maxsize=2)
def _processor(options: IngestOptions) -> ArchiveProcessor:
    """One per Python worker and options: the language model loads once, not per file."""
    return ArchiveProcessor(options)


def _report_row(report: FileReport) -> dict:
    return {
        "kind": "file",
        "report": {
            "path": report.path,
            "status": report.status,
            "error": report.error,
            "format": report.format,
            "compression": report.compression,
            "crawl": report.crawl,
            "records": report.records,
            "responses": report.responses,
            "html": report.html,
            "kept": report.kept,
            "drops": dict(report.drops),
            "seconds": report.seconds,
        },
    }


def _earlier_attempts() -> int:
    """How many attempts of this Spark task came before this one (0 outside Spark)."""
    ctx = TaskContext.get()
    return (ctx.attemptNumber() or 0) if ctx is not None else 0


def process_archives(
    paths: list[str], options: IngestOptions, output_schema, batch_rows: int = 256, lost_attempts_limit: int = 2
) -> Callable:
    """Build the mapInArrow function; `paths` travels with it (indexes come from spark.range).
    `output_schema`: kind ("doc" or "file"), the document fields, and a `report` struct.
    `lost_attempts_limit`: a task whose attempt number reaches it (that many attempts died
    before) reports its archive `failed` without reading it; 0 never gives up."""
    schema = to_arrow_schema(output_schema, timezone="UTC")

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        earlier = _earlier_attempts()
        give_up = 0 < lost_attempts_limit <= earlier
        processor = None if give_up else _processor(options)
        for batch in batches:
            for index in batch.column(0).to_pylist():
                path = paths[index]
                if give_up:
                    report = FileReport(path=safe_location(path), status="failed", error=LOST_ATTEMPTS_ERROR.format(n=earlier))
                    yield pa.RecordBatch.from_pylist([_report_row(report)], schema=schema)
                    continue
                yield from _archive_batches(processor, path, schema, batch_rows)

    return run


def _archive_batches(processor: ArchiveProcessor, path: str, schema: pa.Schema, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Lineage (warc_path, warc_files.path) stores the location without credentials."""
    report = FileReport(path=safe_location(path))
    rows: list[dict] = []
    for doc in processor.process(path, report):
        doc["kind"] = "doc"
        rows.append(doc)
        if len(rows) >= batch_rows:
            yield pa.RecordBatch.from_pylist(rows, schema=schema)
            rows = []
    rows.append(_report_row(report))
    yield pa.RecordBatch.from_pylist(rows, schema=schema)
