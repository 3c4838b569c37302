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


class MissingInput(LookupError):
    """A stage's input table or view cannot be built yet; the message says what to run."""


def read_source(lake, key: str, name: str):
    """The table or derived view a stage reads (config key `key` names it), or MissingInput."""
    if name in DERIVED:
        needs, build = DERIVED[name]
        missing = [t for t in needs if not lake.exists(t)]
        if missing:
            raise MissingInput(f"{key} {name!r} needs table(s) {', '.join(missing)} (run the stages that write them first)")
        return build(lake)
    if not lake.exists(name):
        raise MissingInput(f"{key}: no table {name!r} in lake {lake.root} (run ingest first)")
    return lake.read(name)
