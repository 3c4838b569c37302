"""Dedup: exact and MinHash-LSH near-duplicate clusters over new documents -> `dedup`.

Phases, all distributed, one module each:
  1. sketch: each new document's normalised-text hash and MinHash band keys (mapInArrow);
  2. candidates: documents with the same exact hash link to the smallest node among them;
     documents sharing a band key link to the bucket's smallest node (or, with `verify`,
     pairwise in buckets up to `bucket_cap`);
  3. verify: a candidate pair stays only when its true shingle Jaccard reaches the threshold;
  4. components: connected components of the edges;
  5. keepers: one per component: best recall score, then earliest fetch, then smallest doc_id.

Incremental: documents already in `dedup` are never redone. A new document whose exact
hash or band key matches a stored row joins that row's cluster and is dropped as a
duplicate of its keeper; stored keepers never change. The run appends in one commit, so a
crash leaves `dedup` as it was and a rerun on the same input appends nothing.

    webinstruct dedup [--set dedup.key=value ...]
"""

from __future__ import annotations

from collections import Counter
from typing import Callable

from pyspark.sql import functions as F

from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.errors import DedupConfigMismatch, DedupError
from webinstruct.jobs.core.lake import Lake
from webinstruct.jobs.core.lease import writes
from webinstruct.jobs.core.runs import RunRecorder
from webinstruct.jobs.core.tables import DEDUP
from webinstruct.jobs.stages.dedup.candidates import (
    bucket_members,
    candidate_pairs,
    exact_edges,
    star_edges,
    stored_matches,
)
from webinstruct.jobs.stages.dedup.components import connected_components
from webinstruct.jobs.stages.dedup.keepers import dedup_rows
from webinstruct.jobs.stages.dedup.settings import check_params, lsh_label, lsh_params, materializer, timed
from webinstruct.jobs.stages.dedup.sketch import arrow_batch_rows, new_documents, read_input, rows_per_batch, sketch
from webinstruct.jobs.stages.dedup.verify import verified_edges

__all__ = ["run", "summary_rows", "DedupError", "DedupConfigMismatch", "lsh_params", "lsh_label"]


@writes("dedup")
def run(spark, cfg: Config, lake: Lake) -> dict:
    recorder = RunRecorder(lake, "dedup", cfg, args={"input": cfg.dedup.input})
    counters = _dedup(spark, cfg, lake, materializer(cfg.dedup.checkpoint), recorder.run_id)
    recorder.finish("ok", counters)
    return counters


def _dedup(spark, cfg: Config, lake: Lake, materialize: Callable, run_id: str) -> dict:
    """The five phases over the documents not in `dedup` yet, then one commit."""
    d = cfg.dedup
    params = lsh_params(cfg)
    label = lsh_label(params)
    counters: Counter = Counter(bands=params.bands, rows=params.rows)
    source = read_input(lake, d.input)
    old = lake.read("dedup") if lake.exists("dedup") else None
    if old is not None:
        check_params(old, label)

    sk = sketch(spark, cfg, new_documents(lake, source, old), params, materialize, counters)
    if counters["documents_in"] == 0:
        return dict(counters)

    with timed(counters, "ms_candidates"):
        stored = stored_matches(old, sk, materialize) if old is not None else None
        if stored is not None:
            counters["stored_clusters_touched"] = stored.nodes.count()
        in_bucket = bucket_members(sk, stored)
        if d.verify:
            candidates = candidate_pairs(in_bucket, d.bucket_cap, materialize)
            counters["candidate_pairs"] = candidates.count()
            stored_texts = None
            if stored is not None:  # from `documents`: a stored page no longer recalled still counts
                stored_docs = stored.bands.select("doc_id").distinct()
                stored_texts = lake.read("documents").join(stored_docs, "doc_id", "left_semi").select("doc_id", "text")
            with arrow_batch_rows(spark, rows_per_batch(cfg, 2)):
                near = verified_edges(candidates, sk, stored_texts, params.ngram, d.threshold, materialize)
            counters["verified_pairs"] = near.count()
        else:
            near = star_edges(in_bucket)

    with timed(counters, "ms_components"):
        components, rounds = connected_components(exact_edges(sk, stored).unionByName(near), materialize, d.max_iterations)
    counters["cc_rounds"] = rounds

    with timed(counters, "ms_keepers"):
        result = materialize(dedup_rows(sk, components, stored.nodes if stored else None, label, run_id), "result")
    with timed(counters, "ms_commit"):
        commit = lake.append("dedup", result.select(*DEDUP.fieldNames()), txn=(f"webinstruct.dedup.{run_id}", 0))
    counters["rows_written"] = commit.rows
    counters.update(_outcome(result))
    return dict(counters)


def _outcome(result) -> dict:
    stats = result.agg(
        F.sum(F.col("is_keeper").cast("int")).alias("kept"),
        F.sum((F.col("reason") == "exact").cast("int")).alias("exact_dups"),
        F.sum((F.col("reason") == "near").cast("int")).alias("near_dups"),
        F.sum(F.col("_matched_stored").cast("int")).alias("dropped_against_stored"),
        F.countDistinct(F.when(F.col("cluster_size") > 1, F.col("cluster_id"))).alias("clusters"),
        F.max("cluster_size").alias("largest_cluster"),
    ).collect()[0]
    return {k: int(v or 0) for k, v in stats.asDict().items()}


def summary_rows(counters: dict, lake: Lake | None = None) -> list[tuple[str, object]]:
    rows = [
        ("documents in (new)", counters.get("documents_in", 0)),
        ("kept", counters.get("kept", 0)),
        ("exact duplicates dropped", counters.get("exact_dups", 0)),
        ("near duplicates dropped", counters.get("near_dups", 0)),
        ("  of which match stored clusters", counters.get("dropped_against_stored", 0)),
        ("clusters with duplicates", counters.get("clusters", 0)),
        ("largest cluster", counters.get("largest_cluster", 0)),
        ("LSH bands x rows", f"{counters.get('bands', 0)} x {counters.get('rows', 0)}"),
    ]
    if "candidate_pairs" in counters:
        rows.append(("candidate pairs (verified / all)", f"{counters.get('verified_pairs', 0)} / {counters['candidate_pairs']}"))
    if "cc_rounds" in counters:
        rows.append(("connected-components rounds", counters["cc_rounds"]))
    return rows
