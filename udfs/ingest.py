"""mapInArrow function for ingest: each input row is an index into the archive list, and
each Spark task processes its one archive with lib.ingest.archive, streaming documents
out in Arrow batches followed by one report row for the file."""

from __future__ import annotations

import functools
from typing import Callable, Iterator

import pyarrow as pa
from pyspark.sql.pandas.types import to_arrow_schema
from webinstruct.lib.ingest.archive import ArchiveProcessor, FileReport, IngestOptions


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


def process_archives(paths: list[str], options: IngestOptions, output_schema, batch_rows: int = 256) -> Callable:
    """Build the mapInArrow function; `paths` travels with it (indexes come from spark.range).
    `output_schema`: kind ("doc" or "file"), the document fields, and a `report` struct."""
    schema = to_arrow_schema(output_schema, timezone="UTC")

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        processor = _processor(options)
        for batch in batches:
            for index in batch.column(0).to_pylist():
                path = paths[index]
                report = FileReport(path=path)
                rows: list[dict] = []
                for doc in processor.process(path, report):
                    doc["kind"] = "doc"
                    rows.append(doc)
                    if len(rows) >= batch_rows:
                        yield pa.RecordBatch.from_pylist(rows, schema=schema)
                        rows = []
                rows.append(_report_row(report))
                yield pa.RecordBatch.from_pylist(rows, schema=schema)

    return run
