"""Dedup: exact and MinHash-LSH near-duplicate clusters over new documents -> `dedup`.

Steps, all distributed:
  1. sketch each new document (normalised-text hash, MinHash band keys) in mapInArrow;
  2. edges: documents with the same exact hash link to the smallest node among them;
     documents sharing a band key link to the bucket's smallest node (or, with `verify`,
     pairwise in buckets up to `bucket_cap`, then kept only when the true shingle Jaccard
     reaches the threshold);
  3. connected components (jobs/components.py);
  4. one keeper per component: best recall score, then earliest fetch, then smallest doc_id.

Incremental: documents already in `dedup` are never redone. A new document whose exact
hash or band key matches a stored row joins that row's cluster and is dropped as a
duplicate of its keeper; stored keepers never change. The run appends in one commit, so a
crash leaves `dedup` as it was and a rerun on the same input appends nothing.

    spark-submit jobs/dedup.py [--config F] [--lake DIR] [--set dedup.key=value ...]
"""

from __future__ import annotations

if __package__ in (None, ""):  # run as a script by spark-submit: make the repo importable
    import pathlib
    import sys

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import datetime as dt
import time
from collections import Counter
from contextlib import contextmanager

from jobs.config import Config
from jobs.lake import Lake
from jobs.runs import RunRecorder
from lib.minhash import LshParams, optimal_param

SCHEME = "affine32-sha1"  # lib.minhash: datasketch's default MinHash scheme


class DedupError(RuntimeError):
    """A dedup run cannot start; the message says what to do. Nothing was written."""


class DedupConfigMismatch(DedupError):
    """The stored band keys were made with other parameters; matching them would be wrong."""


def lsh_params(cfg: Config) -> LshParams:
    d = cfg.dedup
    if d.bands:
        bands, rows = d.bands, d.rows
    else:
        bands, rows = optimal_param(d.threshold, d.num_perm, d.fp_weight, d.fn_weight)
    return LshParams(num_perm=d.num_perm, bands=bands, rows=rows, ngram=d.ngram, seed=d.seed)


def lsh_label(p: LshParams) -> str:
    return f"{SCHEME}/p{p.num_perm}/b{p.bands}x{p.rows}/n{p.ngram}/s{p.seed}"


class Materializer:
    """Cuts lineage: writes a frame to the run's scratch folder and reads it back, or uses a
    local checkpoint (config dedup.checkpoint)."""

    def __init__(self, spark, folder: str, mode: str):
        self.spark, self.folder, self.mode = spark, folder, mode

    def __call__(self, df, name: str):
        if self.mode == "local":
            return df.localCheckpoint(eager=True)
        path = f"{self.folder}/{name}"
        df.write.mode("overwrite").parquet(path)
        return self.spark.read.parquet(path)


def run(spark, cfg: Config, lake: Lake) -> dict:
    recorder = RunRecorder(lake, "dedup", cfg, args={"input": cfg.dedup.input})
    params = lsh_params(cfg)
    scratch = lake.scratch("dedup", recorder.run_id)
    materialize = Materializer(spark, scratch, cfg.dedup.checkpoint)
    try:
        counters = _run(spark, cfg, lake, params, materialize, recorder.run_id)
    finally:
        if cfg.dedup.checkpoint == "parquet":
            lake.remove_tree(scratch)
    recorder.finish("ok", counters)
    return counters


def _check_params(old, label: str) -> None:
    stored = [r["lsh"] for r in old.select("lsh").distinct().limit(5).collect()]
    if stored and stored != [label]:
        raise DedupConfigMismatch(
            f"the dedup table holds band keys made with {', '.join(stored)}, the config gives {label}; "
            "restore dedup.num_perm/bands/rows/ngram/seed/threshold/fp_weight/fn_weight, "
            "or dedup into a new lake"
        )


def recall_scores(lake: Lake):
    """(doc_id, score) from the final recall round's current model, when recall has run; else None."""
    if not lake.exists("recall_scores"):
        return None
    from pyspark.sql import functions as F

    from jobs.views import recall_current

    return recall_current(lake).groupBy("doc_id").agg(F.max("score").alias("score"))


def read_input(lake: Lake, name: str):
    from jobs.views import MissingInput, read_source

    try:
        return read_source(lake, "dedup.input", name)
    except MissingInput as exc:
        raise DedupError(str(exc)) from None


@contextmanager
def _timed(counters: Counter, key: str):
    """Wall time of a step in ms, into the run's counters (the `runs` table keeps them)."""
    start = time.perf_counter()
    yield
    counters[key] += int((time.perf_counter() - start) * 1000)


def _order_key(score, fetch, *rest):
    """Keeper order as a struct, smallest first: best score, earliest fetch, then `rest`."""
    from pyspark.sql import functions as F

    return F.struct(
        score.isNull().cast("int").alias("s0"),
        F.coalesce(-score, F.lit(0.0)).alias("s1"),
        fetch.isNull().cast("int").alias("f0"),
        F.coalesce(fetch, F.lit(dt.datetime(9999, 1, 1)).cast("timestamp")).alias("f1"),
        *rest,
    )


def _run(spark, cfg: Config, lake: Lake, params: LshParams, materialize: Materializer, run_id: str) -> dict:
    from pyspark.sql import functions as F

    from jobs.components import connected_components
    from jobs.tables import DEDUP
    from udfs.dedup import PAIR_SCHEMA, SKETCH_SCHEMA, sketch_documents, verify_pairs

    d = cfg.dedup
    label = lsh_label(params)
    counters: Counter = Counter(bands=params.bands, rows=params.rows)
    source = read_input(lake, d.input)
    old = lake.read("dedup") if lake.exists("dedup") else None
    if old is not None:
        _check_params(old, label)

    docs = source.select("doc_id", "fetch_time", "text")
    if old is not None:
        docs = docs.join(old.select("doc_id"), "doc_id", "left_anti")
    scores = recall_scores(lake)
    if scores is not None:
        docs = docs.join(scores, "doc_id", "left")
    else:
        docs = docs.withColumn("score", F.lit(None).cast("double"))

    conf_key = "spark.sql.execution.arrow.maxRecordsPerBatch"
    before = spark.conf.get(conf_key, None)
    spark.conf.set(conf_key, str(d.batch_rows))
    try:
        sk = docs.select("doc_id", "fetch_time", "score", "text").mapInArrow(sketch_documents(params, d.verify), SKETCH_SCHEMA)
        with _timed(counters, "ms_sketch"):
            sk = materialize(sk.withColumn("node", F.xxhash64("doc_id")), "sketches")
    finally:
        if before is None:
            spark.conf.unset(conf_key)
        else:
            spark.conf.set(conf_key, before)
    n, nodes = sk.agg(F.count("*"), F.countDistinct("node")).collect()[0]
    counters["documents_in"] = n
    if n == 0:
        return dict(counters)
    if nodes != n:  # 64-bit node ids: about 3% odds of any collision at 10^9 documents
        raise RuntimeError(f"dedup: {n - nodes} node id collision(s) among {n} new documents; run them in smaller batches")

    edges_started = time.perf_counter()
    # -- stored rows that touch this batch ------------------------------------------------
    if old is not None:
        hashes = sk.select("exact_hash").distinct()
        keys = sk.where("shingles > 0").select(F.explode("band_keys").alias("key")).distinct()
        old_node = F.xxhash64("cluster_id").alias("node")
        old_exact = old.join(hashes, "exact_hash", "left_semi").select("exact_hash", old_node, "cluster_id").distinct()
        # Stored documents sharing a band key with this batch: each one's own text is what
        # a candidate pair is verified against; its cluster is the node it links to.
        # Stored exact copies carry their keeper's keys and text, so they add nothing.
        old_bands = materialize(
            old.where("shingles > 0 AND reason != 'exact'")
            .select(F.explode("band_keys").alias("key"), "cluster_id", "doc_id")
            .join(keys, "key", "left_semi")
            .select("key", old_node, "cluster_id", "doc_id"),
            "stored-bands",
        )
        touched = old_exact.select("cluster_id").unionByName(old_bands.select("cluster_id")).distinct()
        sizes = old.join(touched, "cluster_id", "left_semi").groupBy("cluster_id").agg(F.count("*").alias("old_size"))
        old_nodes = materialize(
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
        counters["stored_clusters_touched"] = old_nodes.count()

    # -- edges ------------------------------------------------------------------------------
    ex = sk.select("exact_hash", "node")
    if old is not None:
        ex = ex.unionByName(old_exact.select("exact_hash", "node"))
    ex_low = ex.groupBy("exact_hash").agg(F.min("node").alias("low"))
    exact_edges = ex.join(ex_low, "exact_hash").where("node != low").select(F.col("node").alias("src"), F.col("low").alias("dst"))

    reps = sk.groupBy("exact_hash").agg(F.min("node").alias("rep"))
    band_rows = (
        sk.where("shingles > 0")
        .join(reps, "exact_hash")
        .where("node = rep")
        .select(F.explode("band_keys").alias("key"), "node", "doc_id", F.lit(True).alias("is_new"))
    )
    if old is not None:
        band_rows = band_rows.unionByName(old_bands.select("key", "node", "doc_id", F.lit(False).alias("is_new")))
    buckets = (
        band_rows.groupBy("key")
        .agg(F.min(F.struct("node", "doc_id", "is_new")).alias("low"), F.count("*").alias("size"))
        .where("size > 1")
        .select(
            "key", "size", F.col("low.node").alias("low"), F.col("low.doc_id").alias("low_doc"),
            F.col("low.is_new").alias("low_is_new"),
        )
    )
    in_bucket = band_rows.join(buckets, "key")
    if d.verify:
        # Stored clusters were compared when they were made: pairs of two stored
        # documents are not candidates again.
        star = in_bucket.where(f"size > {d.bucket_cap} AND node != low AND (is_new OR low_is_new)").select(
            F.col("node").alias("src"), F.col("low").alias("dst"),
            F.col("doc_id").alias("src_doc"), F.col("low_doc").alias("dst_doc"),
        )
        small = in_bucket.where(f"size <= {d.bucket_cap}").select("key", "node", "doc_id", "is_new")
        pairs = (
            small.alias("x")
            .join(small.alias("y"), "key")
            .where((F.col("x.node") < F.col("y.node")) & (F.col("x.is_new") | F.col("y.is_new")))
            .select(
                F.col("x.node").alias("src"), F.col("y.node").alias("dst"),
                F.col("x.doc_id").alias("src_doc"), F.col("y.doc_id").alias("dst_doc"),
            )
        )
        candidates = materialize(star.unionByName(pairs).distinct(), "candidates")
        counters["candidate_pairs"] = candidates.count()
        # New documents bring the shingle set made while sketching; stored ones their text.
        feats = sk.select("doc_id", "shingle_set", F.lit(None).cast("string").alias("text"))
        if old is not None:
            stored = old_bands.select("doc_id").distinct()
            feats = feats.unionByName(
                source.join(stored, "doc_id", "left_semi")
                .select("doc_id", F.lit(None).cast("binary").alias("shingle_set"), "text")
            )
        src = feats.select(F.col("doc_id").alias("src_doc"), F.col("shingle_set").alias("set_src"), F.col("text").alias("text_src"))
        dst = feats.select(F.col("doc_id").alias("dst_doc"), F.col("shingle_set").alias("set_dst"), F.col("text").alias("text_dst"))
        scored = (
            candidates.join(src, "src_doc")
            .join(dst, "dst_doc")
            .select("src", "dst", "set_src", "set_dst", "text_src", "text_dst")
            .mapInArrow(verify_pairs(params.ngram), PAIR_SCHEMA)
        )
        near_edges = materialize(
            scored.where(F.col("jaccard") >= d.threshold).select("src", "dst").distinct(), "verified"
        )
        counters["verified_pairs"] = near_edges.count()
    else:
        near_edges = in_bucket.where("node != low AND (is_new OR low_is_new)").select(
            F.col("node").alias("src"), F.col("low").alias("dst")
        )

    counters["ms_candidates"] = int((time.perf_counter() - edges_started) * 1000)
    edges = exact_edges.unionByName(near_edges)
    with _timed(counters, "ms_components"):
        components, rounds = connected_components(edges, materialize, d.max_iterations)
    counters["cc_rounds"] = rounds

    # -- keepers ----------------------------------------------------------------------------
    members = sk.join(components, "node", "left").withColumn("component", F.coalesce("component", "node"))
    best_new = members.groupBy("component").agg(
        F.min(_order_key(F.col("score"), F.col("fetch_time"), F.col("doc_id"), F.col("exact_hash"))).alias("k"),
        F.count("*").alias("new_size"),
    )
    info = best_new.select(
        "component", "new_size",
        F.col("k.doc_id").alias("new_keeper"), F.col("k.exact_hash").alias("new_keeper_hash"),
    )
    if old is not None:
        best_old = (
            old_nodes.join(components, "node")
            .groupBy("component")
            .agg(F.min(_order_key(F.col("old_score"), F.col("old_fetch"), F.col("cluster_id"), F.col("old_hash"), F.col("old_size"))).alias("o"))
            .select("component", F.col("o.cluster_id").alias("old_cluster"), F.col("o.old_hash").alias("old_hash"), F.col("o.old_size").alias("old_size"))
        )
        info = info.join(best_old, "component", "left")
    else:
        info = info.select(
            "*", F.lit(None).cast("string").alias("old_cluster"), F.lit(None).cast("string").alias("old_hash"),
            F.lit(None).cast("long").alias("old_size"),
        )
    keeper_hash = F.coalesce("old_hash", "new_keeper_hash")
    is_keeper = F.col("old_cluster").isNull() & (F.col("doc_id") == F.col("new_keeper"))
    now = dt.datetime.now(dt.timezone.utc)
    result = members.join(info, "component").select(
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
    with _timed(counters, "ms_keepers"):
        result = materialize(result, "result")
    with _timed(counters, "ms_commit"):
        commit = lake.append("dedup", result.select(*DEDUP.fieldNames()), txn=(f"webinstruct.dedup.{run_id}", 0))
    counters["rows_written"] = commit.rows

    stats = result.agg(
        F.sum(F.col("is_keeper").cast("int")).alias("kept"),
        F.sum((F.col("reason") == "exact").cast("int")).alias("exact_dups"),
        F.sum((F.col("reason") == "near").cast("int")).alias("near_dups"),
        F.sum(F.col("_matched_stored").cast("int")).alias("dropped_against_stored"),
        F.countDistinct(F.when(F.col("cluster_size") > 1, F.col("cluster_id"))).alias("clusters"),
        F.max("cluster_size").alias("largest_cluster"),
    ).collect()[0]
    counters.update({k: int(v or 0) for k, v in stats.asDict().items()})
    return dict(counters)


def summary_rows(counters: dict) -> list[tuple[str, object]]:
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


def main(argv: list[str] | None = None) -> int:
    from jobs.cli import main as cli_main
    import sys

    return cli_main(["dedup", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
