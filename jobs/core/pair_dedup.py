"""Pair-level dedup of the published set: the same question reposted on fifty sites is
published once.

Two pairs are one when their normalised question and answer are equal (exact), or when
their questions' MinHash LSH bands meet and the shingle sets' Jaccard reaches
`gate.dedup_threshold` (near). The keeper is fixed by one order, so reruns agree:

    already published, markup-accepted, markup votes, gate score, earliest fetch, qa_id, refiner.

Pairs published before come first, so a new copy never displaces a published pair and
published `index` values stay put (incremental against the published set). Near dedup is a
star around the best pair of each band bucket, not a transitive closure: a chain of
near-copies keeps more than one pair rather than dropping pairs that are far apart. Two
refiners' rewrites of one pair (`refine.assign = "all"`) are not near-copies of each other.
"""

from __future__ import annotations

from pyspark.sql import Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from webinstruct.udfs.gate import jaccard_map

KEY = ["qa_id", "refiner"]
JACCARD = T.StructType([T.StructField("a", T.StringType()), T.StructField("b", T.StringType()),
                        T.StructField("jaccard", T.DoubleType())])
LATEST = "9999-12-31 00:00:00"


def order_key():
    """The keeper order as one comparable struct (smallest first), no global sort needed."""
    return F.struct(
        (-F.col("_published").cast("int")).alias("published"), (-F.coalesce(F.col("_accepted").cast("int"), F.lit(0))).alias("accepted"),
        (-F.coalesce(F.col("_votes"), F.lit(0))).alias("votes"), (-F.coalesce(F.col("_score"), F.lit(0.0))).alias("score"),
        F.coalesce(F.col("_fetch"), F.to_timestamp(F.lit(LATEST))).alias("fetch"), F.col("qa_id"), F.col("refiner"))


def dedup_pairs(pairs, threshold: float):
    """`pairs` (KEY, exact_key, band_keys, shingle_set and the _published, _accepted,
    _votes, _score, _fetch order columns) -> KEY and `duplicates` of each keeper."""
    ranked = pairs.withColumn("_order", order_key()).withColumn("_pid", F.concat_ws("\x1f", "qa_id", "refiner"))
    # exact: one keeper per normalised question + answer
    best = ranked.groupBy("exact_key").agg(F.min("_order").alias("_keep"))
    exact = ranked.join(best, "exact_key").withColumn("_dup", F.col("_order") != F.col("_keep"))
    keep_id = F.concat_ws("\x1f", F.col("_keep.qa_id"), F.col("_keep.refiner"))
    dropped_exact = exact.where("_dup").select(keep_id.alias("_dup_of"))
    survivors = exact.where(~F.col("_dup")).select("_pid", "_order", "band_keys", "shingle_set")
    # near: within each band bucket, every member against the bucket's best
    bands = survivors.select("_pid", "_order", F.posexplode("band_keys").alias("band", "key"))
    heads = (bands.groupBy("band", "key").agg(F.min("_order").alias("_head"), F.count("*").alias("n")).where("n > 1")
             .select("band", "key", F.concat_ws("\x1f", F.col("_head.qa_id"), F.col("_head.refiner")).alias("a")))
    # two refiners' versions of one pair (refine.assign = "all") are kept both, as intended
    same_pair = F.substring_index(F.col("_pid"), "\x1f", 1) == F.substring_index(F.col("a"), "\x1f", 1)
    cands = bands.join(heads, ["band", "key"]).where(~same_pair).select("a", F.col("_pid").alias("b")).distinct()
    sets = survivors.select("_pid", "shingle_set")
    scored = (cands.join(sets.select(F.col("_pid").alias("a"), F.col("shingle_set").alias("set_a")), "a")
              .join(sets.select(F.col("_pid").alias("b"), F.col("shingle_set").alias("set_b")), "b")
              .select("a", "b", "set_a", "set_b").mapInPandas(jaccard_map(), JACCARD))
    near = scored.where(F.col("jaccard") >= threshold).groupBy("b").agg(F.min("a").alias("_dup_of"))
    marked = survivors.join(near.withColumnRenamed("b", "_pid"), "_pid", "left")
    kept = marked.where(F.col("_dup_of").isNull()).select("_pid")
    dropped = dropped_exact.unionByName(marked.where(F.col("_dup_of").isNotNull()).select("_dup_of"))
    counts = dropped.groupBy(F.col("_dup_of").alias("_pid")).agg(F.count("*").alias("duplicates"))
    out = ranked.join(kept, "_pid", "left_semi").join(counts, "_pid", "left")
    return out.select(*KEY, F.coalesce("duplicates", F.lit(0)).cast("long").alias("duplicates"))
