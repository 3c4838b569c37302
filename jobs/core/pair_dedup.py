"""Pair-level dedup of the published set: the same question reposted on fifty sites is
published once.

Two pairs are copies when their normalised question and answer are equal (exact), or when
their questions' MinHash LSH bands meet, the shingle sets' Jaccard reaches
`gate.dedup_threshold` and they hold the same numbers (near: "3 hours" and "4 hours" are
two problems, however alike the words). All pairs follow one order:

    already published, markup-accepted, markup votes, gate score, earliest fetch, qa_id, refiner.

An exact copy goes when a better pair has the same texts; a near copy goes when any better
pair is a near copy of it, even one that went itself. The rule depends only on the order,
so a rerun keeps the same pairs, and since published pairs come first a new copy never
displaces one: published `index` values stay put (incremental against the published set). Two refiners' rewrites of one pair
(`refine.assign = "all"`) are not copies of each other. Each kept pair's `duplicates`
counts the copies whose best kept copy it is.
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
BUCKET_HEADS = 50  # in one LSH bucket, each pair is compared with at most the 50 best before it


def order_key():
    """The keeper order as one comparable struct (smallest first), no global sort needed."""
    return F.struct(
        (-F.col("_published").cast("int")).alias("published"), (-F.coalesce(F.col("_accepted").cast("int"), F.lit(0))).alias("accepted"),
        (-F.coalesce(F.col("_votes"), F.lit(0))).alias("votes"), (-F.coalesce(F.col("_score"), F.lit(0.0))).alias("score"),
        F.coalesce(F.col("_fetch"), F.to_timestamp(F.lit(LATEST))).alias("fetch"), F.col("qa_id"), F.col("refiner"))


def _pid(struct_col: str):
    return F.concat_ws("\x1f", F.col(f"{struct_col}.qa_id"), F.col(f"{struct_col}.refiner"))


def dedup_pairs(pairs, threshold: float, materialize=lambda df, name: df):
    """`pairs` (KEY, exact_key, band_keys, shingle_set, number_key and the _published,
    _accepted, _votes, _score, _fetch order columns) -> KEY and `duplicates` of each kept pair.
    `materialize(df, name)` cuts the lineage of the frames used several times below (the
    ranked pairs, the exact survivors, the candidate pairs), so the plan stays small."""
    ranked = materialize(pairs.withColumn("_order", order_key()).withColumn("_pid", F.concat_ws("\x1f", "qa_id", "refiner")),
                         "pairs-ranked")
    # exact: one keeper per normalised question + answer
    best = ranked.groupBy("exact_key").agg(F.min("_order").alias("_keep"))
    exact = ranked.join(best, "exact_key").withColumn("_dup", F.col("_order") != F.col("_keep"))
    dropped_exact = exact.where("_dup").select(_pid("_keep").alias("_credit"))
    survivors = materialize(exact.where(~F.col("_dup")).select("_pid", "_order", "band_keys", "shingle_set", "number_key"),
                            "pairs-survivors")
    # near: each pair against the better pairs of every LSH bucket it is in
    bands = survivors.select("_pid", "_order", F.posexplode("band_keys").alias("band", "key"))
    heads = bands.withColumn("_r", F.row_number().over(Window.partitionBy("band", "key").orderBy("_order"))) \
        .where(F.col("_r") <= BUCKET_HEADS).select("band", "key", F.col("_pid").alias("a"), F.col("_order").alias("a_order"))
    members = bands.select("band", "key", F.col("_pid").alias("b"), F.col("_order").alias("b_order"))
    # two refiners' versions of one pair (refine.assign = "all") are kept both, as intended
    same_pair = F.substring_index(F.col("a"), "\x1f", 1) == F.substring_index(F.col("b"), "\x1f", 1)
    cands = (heads.join(members, ["band", "key"]).where((F.col("a_order") < F.col("b_order")) & ~same_pair)
             .select("a", "a_order", "b").dropDuplicates(["a", "b"]))
    cands = materialize(cands, "pairs-candidates")
    side = survivors.select("_pid", "shingle_set", "number_key")
    scored = (cands.join(side.select(F.col("_pid").alias("a"), F.col("shingle_set").alias("set_a"), F.col("number_key").alias("num_a")), "a")
              .join(side.select(F.col("_pid").alias("b"), F.col("shingle_set").alias("set_b"), F.col("number_key").alias("num_b")), "b")
              .where(F.col("num_a").eqNullSafe(F.col("num_b"))))
    verified = scored.select("a", "b", "set_a", "set_b").mapInPandas(jaccard_map(), JACCARD).where(F.col("jaccard") >= threshold)
    near = materialize(verified.join(cands.select("a", "b", "a_order"), ["a", "b"]), "pairs-near")
    dropped_near = near.select(F.col("b").alias("_pid")).distinct()
    kept = survivors.select("_pid").join(dropped_near, "_pid", "left_anti")
    # credit a near copy to its best kept better copy
    credited = (near.join(kept.withColumnRenamed("_pid", "a"), "a", "left_semi")
                .groupBy("b").agg(F.min(F.struct("a_order", "a")).alias("_best")).select(F.col("_best.a").alias("_credit")))
    counts = dropped_exact.unionByName(credited).groupBy(F.col("_credit").alias("_pid")).agg(F.count("*").alias("duplicates"))
    out = ranked.join(kept, "_pid", "left_semi").join(counts, "_pid", "left")
    return out.select(*KEY, F.coalesce("duplicates", F.lit(0)).cast("long").alias("duplicates"))
