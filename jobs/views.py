"""Views derived from the tables, registered next to them for SQL and read by later stages.

* `documents_dedup`: the documents dedup kept (one per cluster); what extraction reads.
* `dedup_clusters`: one row per duplicate cluster with its current size and keeper. The
  `dedup` table is append-only, so its `cluster_size` is the size when the row was
  written; a later batch that joins an old cluster shows up here.
"""

from __future__ import annotations


def documents_dedup(lake):
    keepers = lake.read("dedup").where("is_keeper").select("doc_id")
    return lake.read("documents").join(keepers, "doc_id", "left_semi")


def dedup_clusters(lake):
    from pyspark.sql import functions as F

    return lake.read("dedup").groupBy("cluster_id").agg(
        F.count("*").alias("size"),
        F.sum(F.when(F.col("reason") == "exact", 1).otherwise(0)).alias("exact_dups"),
        F.sum(F.when(F.col("reason") == "near", 1).otherwise(0)).alias("near_dups"),
        F.max(F.when(F.col("is_keeper"), F.col("doc_id"))).alias("keeper"),
    )


DERIVED = {
    "documents_dedup": (("documents", "dedup"), documents_dedup),
    "dedup_clusters": (("dedup",), dedup_clusters),
}


def register_derived(lake) -> list[str]:
    names = []
    for name, (needs, build) in DERIVED.items():
        if all(lake.exists(t) for t in needs):
            build(lake).createOrReplaceTempView(name)
            names.append(name)
    return names
