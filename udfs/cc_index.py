"""mapInArrow function that reads Common Crawl index files in Spark tasks with pyarrow (for
index roots Spark's own file systems do not reach: HTTP(S), an S3 API). Each input row is
the position of one file in the list; out come its rows (only the columns asked for, row
groups pruned by domain), with the crawl from the file's partition folder, or one row
naming the file and its error."""

from __future__ import annotations

import re
from collections import Counter
from typing import Callable, Iterator

import pyarrow as pa
from pyspark.sql.pandas.types import to_arrow_schema

from webinstruct.lib.ingest.cc_index import open_index_file, read_index_file
from webinstruct.lib.ingest.range_reader import RangeReader, ReadOptions
from webinstruct.lib.urls import safe_location

_CRAWL = re.compile(r"/crawl=([^/]+)/")


def read_index(files: list[str], columns: list[str], domains: set[str] | None, read: ReadOptions, output_schema) -> Callable:
    """`output_schema`: the index `columns`, then `crawl` and `_error` (strings)."""
    schema = to_arrow_schema(output_schema, timezone="UTC")

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        reader = RangeReader(read, Counter())
        for batch in batches:
            for index in batch.column(0).to_pylist():
                yield from _file_batches(files[index], columns, domains, reader, read, schema)

    return run


def _file_batches(location: str, columns, domains, reader, read: ReadOptions, schema: pa.Schema):
    found = _CRAWL.search(location)
    crawl = found.group(1) if found else None
    try:
        handle = open_index_file(location, reader, read.s3)
        with handle:
            for batch in read_index_file(handle, columns, domains):
                n = batch.num_rows
                arrays = [batch.column(c).cast(schema.field(c).type) if c in batch.schema.names else pa.nulls(n, schema.field(c).type)
                          for c in columns]
                arrays += [pa.array([crawl] * n, pa.string()), pa.nulls(n, pa.string())]
                yield pa.RecordBatch.from_arrays(arrays, schema=schema)
    except Exception as exc:  # noqa: BLE001 - named per file; the stage refuses a partial selection
        error = f"{safe_location(location)}: {type(exc).__name__}: {exc}"[:1000]
        row = {c: None for c in columns} | {"crawl": crawl, "_error": error}
        yield pa.RecordBatch.from_pylist([row], schema=schema)
