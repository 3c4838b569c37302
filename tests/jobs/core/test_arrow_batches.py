"""Arrow batches into Python workers are bounded by bytes, not only by Spark's 10,000 rows:
long pages (ingest.max_chars each) must not pile up into one worker's memory."""

from __future__ import annotations

import pandas as pd
from pyspark.sql import functions as F

from webinstruct.jobs.core.session import ARROW_BATCH_BYTES

ROW_CHARS = 4 << 20  # 4 MB of text per row


def test_a_python_worker_never_gets_more_than_the_byte_bound_in_one_batch(spark):
    rows = 40  # 160 MB in one partition: one batch without the byte bound
    df = spark.range(rows).repartition(1).select("id", F.repeat(F.lit("x"), ROW_CHARS).alias("text"))

    def sizes(frames):
        for frame in frames:
            yield pd.DataFrame({"rows": [len(frame)], "chars": [int(frame["text"].str.len().sum())]})

    batches = df.mapInPandas(sizes, "rows long, chars long").collect()
    assert sum(b["rows"] for b in batches) == rows
    assert len(batches) > 1
    assert max(b["chars"] for b in batches) <= ARROW_BATCH_BYTES
