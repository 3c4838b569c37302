"""Comparing two lakes table by table, ignoring what differs between two runs of the
same input (run ids, times)."""

from __future__ import annotations

from pathlib import Path

from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql.types import MapType

from webinstruct.jobs.core.config import load_config
from webinstruct.jobs.core.lake import open_lake

UNTIL = "decontam pages"
# per table: the columns that differ between two runs of the same input (run ids, times)
VOLATILE = {
    "documents": ["run_id", "ingested_at"],
    "warc_files": ["run_id", "started_at", "finished_at", "seconds"],
    "models": ["run_id", "created_at", "path"],
    "recall_scores": ["run_id", "scored_at"],
    "domains": ["run_id"],
    "dedup": ["run_id", "deduped_at"],
    "benchmarks": ["run_id", "added_at"],
    "contamination": ["run_id", "checked_at"],
    "decontam_checked": ["run_id", "checked_at"],
    "qa_extracted": ["run_id", "extracted_at"],
}


def read(spark, lake: Path, table: str):
    return open_lake(spark, load_config(lake=str(lake))).read(table)


def comparable(df):
    """Maps as sorted entry arrays: rows with a map cannot be sorted or hashed."""
    for f in df.schema.fields:
        if isinstance(f.dataType, MapType):
            df = df.withColumn(f.name, F.array_sort(F.map_entries(f.name)))
    return df


def assert_same_tables(spark, got: Path, want: Path, tables) -> None:
    for table in tables:
        a, b = (comparable(read(spark, lake, table).drop(*VOLATILE[table])) for lake in (got, want))
        assert a.count() == b.count(), table
        assert_df_equality(a, b, ignore_row_order=True, ignore_nullable=True, ignore_column_order=True)


def ok(result) -> str:
    rc, out, _ = result
    assert rc == 0, out[-4000:]
    return out
