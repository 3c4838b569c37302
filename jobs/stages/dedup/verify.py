"""Phase 3, verify: keep a candidate pair only when the true Jaccard of the two shingle
sets reaches the threshold. New documents bring the shingle set made while sketching;
stored ones their text, from `documents`."""

from __future__ import annotations

from typing import Callable

from pyspark.sql import functions as F

from webinstruct.jobs.core.tables import DEDUP_PAIR
from webinstruct.udfs.dedup import verify_pairs


def verified_edges(candidates, sk, stored_texts, ngram: int, threshold: float, materialize: Callable):
    """(src, dst) of the candidates at or above `threshold`. `stored_texts`: (doc_id, text)
    of the stored documents among the candidates, or None."""
    feats = sk.select("doc_id", "shingle_set", F.lit(None).cast("string").alias("text"))
    if stored_texts is not None:
        feats = feats.unionByName(stored_texts.select("doc_id", F.lit(None).cast("binary").alias("shingle_set"), "text"))
    src = feats.select(F.col("doc_id").alias("src_doc"), F.col("shingle_set").alias("set_src"), F.col("text").alias("text_src"))
    dst = feats.select(F.col("doc_id").alias("dst_doc"), F.col("shingle_set").alias("set_dst"), F.col("text").alias("text_dst"))
    scored = (
        candidates.join(src, "src_doc")
        .join(dst, "dst_doc")
        .select("src", "dst", "set_src", "set_dst", "text_src", "text_dst")
        .mapInArrow(verify_pairs(ngram), DEDUP_PAIR)
    )
    return materialize(scored.where(F.col("jaccard") >= threshold).select("src", "dst").distinct(), "verified")
