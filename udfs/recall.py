"""The recall scoring UDF: prepared text in, P(educational Q&A page) out.

The model file is shipped to executors once (SparkContext.addFile; executors fetch it on
first use) and loaded once per Python worker (lib.recall.model.load_scorer caches it;
Spark reuses workers across tasks). Each Arrow batch is predicted in one fastText call.
"""

from __future__ import annotations

from typing import Iterator

import pandas as pd


def ship_model(spark, uri: str) -> str:
    """Make the model file available to every executor; returns the name to look it up by."""
    name = uri.rstrip("/").rsplit("/", 1)[-1]
    try:
        context = spark.sparkContext
    except Exception:  # noqa: BLE001 - Spark Connect has no SparkContext: the UDF reads the lake path
        return name
    try:
        context.addFile(uri)
    except Exception as exc:  # noqa: BLE001 - py4j wraps the JVM's error
        if "has been added already" not in str(exc):  # content-addressed name: same file
            raise
    return name


def score_udf(name: str, fallback_path: str, max_words: int):
    """A pandas UDF over a text column; `fallback_path` is read directly where SparkFiles
    has no copy (Spark Connect sessions cannot addFile)."""
    from pyspark.sql.functions import pandas_udf

    @pandas_udf("double")
    def score(batches: Iterator[pd.Series]) -> Iterator[pd.Series]:
        import os

        from pyspark import SparkFiles
        from webinstruct.lib.recall.model import load_scorer
        from webinstruct.lib.recall.text import prepare

        path = SparkFiles.get(name)
        scorer = load_scorer(path if os.path.exists(path) else fallback_path)
        for texts in batches:
            yield pd.Series(scorer.scores([prepare(t, max_words) for t in texts]))

    return score
