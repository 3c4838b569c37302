"""Phase 2, candidates: which stored rows this batch touches, exact-hash edges, and the
documents that share a MinHash band key.

Every bucket of a band key links its members to its smallest node (linear in the bucket,
the same components as all pairs). With verification, buckets up to `bucket_cap` give all
pairs instead, which phase 3 checks by true Jaccard. Pairs of two stored documents are
never candidates again: they were compared when they were made.
"""

from __future__ import annotations

from typing import Callable

from dataclasses import dataclass

from pyspark.sql import functions as F



@dataclass
class Stored:
    """The stored rows a new batch touches."""
    exact: object  # (exact_hash, node, cluster_id): stored rows sharing an exact hash with the batch
    bands: object  # (key, node, cluster_id, doc_id): stored documents sharing a band key, node = their cluster
    nodes: object  # one row per touched cluster: node, cluster_id, old_size, old_hash, old_score, old_fetch


def stored_matches(old, sk, materialize: Callable) -> Stored:
    """Stored documents sharing an exact hash or a band key with the batch, and their
    clusters' keepers. Stored exact copies carry their keeper's keys and text, so only
    `unique` and `near` rows bring band keys."""
    hashes = sk.select("exact_hash").distinct()
    keys = sk.where("shingles > 0").select(F.explode("band_keys").alias("key")).distinct()
    old_node = F.xxhash64("cluster_id").alias("node")
    exact = old.join(hashes, "exact_hash", "left_semi").select("exact_hash", old_node, "cluster_id").distinct()
    bands = materialize(
        old.where("shingles > 0 AND reason != 'exact'")
        .select(F.explode("band_keys").alias("key"), "cluster_id", "doc_id")
        .join(keys, "key", "left_semi")
        .select("key", old_node, "cluster_id", "doc_id"),
        "stored-bands",
    )
    touched = exact.select("cluster_id").unionByName(bands.select("cluster_id")).distinct()
    sizes = old.join(touched, "cluster_id", "left_semi").groupBy("cluster_id").agg(F.count("*").alias("old_size"))
    nodes = materialize(
        old.where("is_keeper")
        .join(touched, "cluster_id", "left_semi")
        .join(sizes, "cluster_id")
        .select(
            F.xxhash64("cluster_id").alias("node"), "cluster_id", "old_size",
            F.col("exact_hash").alias("old_hash"), F.col("score").alias("old_score"),
            F.col("fetch_time").alias("old_fetch"),
        ),
        "old-nodes",
    )
    return Stored(exact, bands, nodes)


def exact_edges(sk, stored: Stored | None):
    """(src, dst): every document (or stored cluster) to the smallest node of its exact hash."""
    ex = sk.select("exact_hash", "node")
    if stored is not None:
        ex = ex.unionByName(stored.exact.select("exact_hash", "node"))
    low = ex.groupBy("exact_hash").agg(F.min("node").alias("low"))
    return ex.join(low, "exact_hash").where("node != low").select(F.col("node").alias("src"), F.col("low").alias("dst"))


def bucket_members(sk, stored: Stored | None):
    """(key, node, doc_id, is_new, size, low, low_doc, low_is_new) for every band bucket
    with two or more members. One representative per exact hash enters the buckets."""
    reps = sk.groupBy("exact_hash").agg(F.min("node").alias("rep"))
    rows = (
        sk.where("shingles > 0")
        .join(reps, "exact_hash")
        .where("node = rep")
        .select(F.explode("band_keys").alias("key"), "node", "doc_id", F.lit(True).alias("is_new"))
    )
    if stored is not None:
        rows = rows.unionByName(stored.bands.select("key", "node", "doc_id", F.lit(False).alias("is_new")))
    buckets = (
        rows.groupBy("key")
        .agg(F.min(F.struct("node", "doc_id", "is_new")).alias("low"), F.count("*").alias("size"))
        .where("size > 1")
        .select(
            "key", "size", F.col("low.node").alias("low"), F.col("low.doc_id").alias("low_doc"),
            F.col("low.is_new").alias("low_is_new"),
        )
    )
    return rows.join(buckets, "key")


def star_edges(in_bucket):
    """Without verification: each bucket member to the bucket's smallest node."""
    return in_bucket.where("node != low AND (is_new OR low_is_new)").select(
        F.col("node").alias("src"), F.col("low").alias("dst")
    )


def candidate_pairs(in_bucket, bucket_cap: int, materialize: Callable):
    """With verification: (src, dst, src_doc, dst_doc) to check. Buckets over `bucket_cap`
    link members to the smallest node; smaller ones give all pairs."""
    star = in_bucket.where(f"size > {bucket_cap} AND node != low AND (is_new OR low_is_new)").select(
        F.col("node").alias("src"), F.col("low").alias("dst"),
        F.col("doc_id").alias("src_doc"), F.col("low_doc").alias("dst_doc"),
    )
    small = in_bucket.where(f"size <= {bucket_cap}").select("key", "node", "doc_id", "is_new")
    pairs = (
        small.alias("x")
        .join(small.alias("y"), "key")
        .where((F.col("x.node") < F.col("y.node")) & (F.col("x.is_new") | F.col("y.is_new")))
        .select(
            F.col("x.node").alias("src"), F.col("y.node").alias("dst"),
            F.col("x.doc_id").alias("src_doc"), F.col("y.doc_id").alias("dst_doc"),
        )
    )
    return materialize(star.unionByName(pairs).distinct(), "candidates")
