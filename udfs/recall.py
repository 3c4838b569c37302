"""The recall scoring UDF: prepared text in, P(educational Q&A page) out.

The model file is shipped to executors once (jobs.core.session.ship_file: addFile, or
addArtifacts on Spark Connect; executors fetch it on first use) and loaded once per Python worker (lib.recall.model.load_scorer caches it;
Spark reuses workers across tasks). Each Arrow batch is predicted in one fastText call.
"""

from __future__ import annotations

import os
from typing import Iterator

import pandas as pd
from pyspark import SparkFiles
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf

from webinstruct.lib.recall.model import load_scorer
from webinstruct.lib.recall.text import CHARS_PER_WORD, prepare


def page_head(column: str, max_words: int):
    """The part of the text `prepare` reads, cut in the JVM: the rest of a long page would
    cross to Python through Arrow only to be dropped there (same scores, fewer bytes)."""
    return F.substring(F.col(column), 1, max_words * CHARS_PER_WORD)


def score_udf(name: str, fallback_path: str, max_words: int):
    """A pandas UDF over a text column; `fallback_path` (the model in the lake) is read
    directly where SparkFiles has no copy."""
    @pandas_udf("double")
    def score(batches: Iterator[pd.Series]) -> Iterator[pd.Series]:
        path = SparkFiles.get(name)
        scorer = load_scorer(path if os.path.exists(path) else fallback_path)
        for texts in batches:
            yield pd.Series(scorer.scores([prepare(t, max_words) for t in texts]))

    return score
