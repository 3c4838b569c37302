"""Phase 5, keepers: one per component, and the `dedup` row of every new document.

The keeper is the best recall score, then the earliest fetch, then the smallest doc_id.
A component that holds a stored cluster keeps that cluster's keeper (stored rows never
change), so every new member is a duplicate of it.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import functions as F


def order_key(score, fetch, *rest):
    """Keeper order as a struct, smallest first: best score, earliest fetch, then `rest`."""
    return F.struct(
        score.isNull().cast("int").alias("s0"),
        F.coalesce(-score, F.lit(0.0)).alias("s1"),
        fetch.isNull().cast("int").alias("f0"),
        F.coalesce(fetch, F.lit(dt.datetime(9999, 1, 1)).cast("timestamp")).alias("f1"),
        *rest,
    )


def component_info(sk, components, stored_nodes):
    """Per component: new members, the best new document and, when the component holds
    stored clusters, the best of them (old_cluster, old_hash, old_size)."""
    members = sk.join(components, "node", "left").withColumn("component", F.coalesce("component", "node"))
    best_new = members.groupBy("component").agg(
        F.min(order_key(F.col("score"), F.col("fetch_time"), F.col("doc_id"), F.col("exact_hash"))).alias("k"),
        F.count("*").alias("new_size"),
    )
    info = best_new.select(
        "component", "new_size", F.col("k.doc_id").alias("new_keeper"), F.col("k.exact_hash").alias("new_keeper_hash"),
    )
    if stored_nodes is not None:
        best_old = (
            stored_nodes.join(components, "node")
            .groupBy("component")
            .agg(F.min(order_key(F.col("old_score"), F.col("old_fetch"), F.col("cluster_id"), F.col("old_hash"),
                                 F.col("old_size"))).alias("o"))
            .select("component", F.col("o.cluster_id").alias("old_cluster"), F.col("o.old_hash").alias("old_hash"),
                    F.col("o.old_size").alias("old_size"))
        )
        info = info.join(best_old, "component", "left")
    else:
        info = info.select(
            "*", F.lit(None).cast("string").alias("old_cluster"), F.lit(None).cast("string").alias("old_hash"),
            F.lit(None).cast("long").alias("old_size"),
        )
    return members, info


def dedup_rows(sk, components, stored_nodes, label: str, run_id: str):
    """One `dedup` row per new document, plus `_matched_stored` for the counters."""
    members, info = component_info(sk, components, stored_nodes)
    keeper_hash = F.coalesce("old_hash", "new_keeper_hash")
    is_keeper = F.col("old_cluster").isNull() & (F.col("doc_id") == F.col("new_keeper"))
    now = dt.datetime.now(dt.timezone.utc)
    return members.join(info, "component").select(
        "doc_id",
        "exact_hash",
        F.coalesce("old_cluster", "new_keeper").alias("cluster_id"),
        (F.col("new_size") + F.coalesce("old_size", F.lit(0))).cast("long").alias("cluster_size"),
        is_keeper.alias("is_keeper"),
        F.when(is_keeper, "unique").when(F.col("exact_hash") == keeper_hash, "exact").otherwise("near").alias("reason"),
        "band_keys",
        "shingles",
        F.lit(label).alias("lsh"),
        "fetch_time",
        "score",
        F.lit(run_id).alias("run_id"),
        F.lit(now).cast("timestamp").alias("deduped_at"),
        F.col("old_cluster").isNotNull().alias("_matched_stored"),
    )
