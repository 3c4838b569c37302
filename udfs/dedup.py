"""mapInArrow functions for dedup: sketching documents and verifying candidate pairs."""

from __future__ import annotations

import functools
from typing import Callable, Iterator

import pyarrow as pa
from pyspark.sql.pandas.types import to_arrow_schema

from webinstruct.lib.dedup.minhash import LshParams, Sketcher, set_jaccard, text_set_bytes


@functools.lru_cache(maxsize=4)
def _sketcher(params: LshParams, keep_sets: bool, memo_bytes: int) -> Sketcher:
    """One per Python worker: the memo of texts already sketched lives across tasks."""
    return Sketcher(params, keep_sets=keep_sets, memo_bytes=memo_bytes)


def sketch_documents(params: LshParams, keep_sets: bool, output_schema, memo_bytes: int = 128 << 20) -> Callable:
    """(doc_id, fetch_time, score, text) batches -> batches of `output_schema`: doc_id,
    fetch_time, score, exact_hash, shingles, band_keys, shingle_set."""
    schema = to_arrow_schema(output_schema, timezone="UTC")

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        sketcher = _sketcher(params, keep_sets, memo_bytes)
        for batch in batches:
            if batch.num_rows == 0:
                continue
            out = sketcher.sketch(batch.column("text").to_pylist())
            flat = pa.array(out.band_keys.reshape(-1), type=pa.int64())
            offsets = pa.array(range(0, (batch.num_rows + 1) * params.bands, params.bands), type=pa.int32())
            yield pa.RecordBatch.from_arrays(
                [
                    batch.column("doc_id").cast(pa.string()),
                    batch.column("fetch_time").cast(schema.field("fetch_time").type),
                    batch.column("score").cast(pa.float64()),
                    pa.array(out.exact_hashes, type=pa.string()),
                    pa.array(out.shingle_counts, type=pa.int64()),
                    pa.ListArray.from_arrays(offsets, flat),
                    pa.array(out.shingle_sets if keep_sets else [None] * batch.num_rows, type=pa.binary()),
                ],
                schema=schema,
            )

    return run


def verify_pairs(ngram: int) -> Callable:
    """(src, dst, set_src, set_dst, text_src, text_dst) batches -> (src, dst, jaccard).
    Each side is a shingle set from the sketch step, or, for stored documents, the text
    it is rebuilt from."""

    def side(sets: list, texts: list) -> list[bytes]:
        return [s if s is not None else text_set_bytes(t, ngram) for s, t in zip(sets, texts)]

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            col = batch.column
            left = side(col("set_src").to_pylist(), col("text_src").to_pylist())
            right = side(col("set_dst").to_pylist(), col("text_dst").to_pylist())
            scores = [set_jaccard(a, b) for a, b in zip(left, right)]
            yield pa.RecordBatch.from_arrays(
                [col("src"), col("dst"), pa.array(scores, type=pa.float64())], names=["src", "dst", "jaccard"]
            )

    return run
