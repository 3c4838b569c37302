"""Semantic dedup as the `semdedup` step and publishing share it: question embeddings kept
per pair and text, k-means centroids fitted with Spark MLlib and stored, and the collapse
of each cluster's rewordings onto one keeper.

Incremental: a question is embedded once (per text and encoder); new questions go to the
nearest stored centroid, and k-means runs again only on request or when the embedded
questions have grown `semdedup.refit_growth` times since the last fit. Deterministic: the
same centroids, the same threshold and the same keeper order (already published, quality,
id) give the same published set on a rerun (one caveat: an answer comparison that outlives
math-verify's 1 s limit on a loaded machine counts as different, so two answers that parse
only slowly may join on one run and not on another).
"""

from __future__ import annotations

from collections import Counter

from pyspark.ml.clustering import KMeans
from pyspark.ml.functions import array_to_vector
from pyspark.sql import Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from webinstruct.jobs.core import scope
from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.errors import ConfigError
from webinstruct.jobs.core.tables import PAIR_EMBEDDINGS, SEMDEDUP_CENTROIDS, SEMDEDUP_GROUPS
from webinstruct.lib.dedup.semantic import clusters_for
from webinstruct.udfs.semdedup import assign_map, collapse_group, embed_map

EMBEDDINGS = "pair_embeddings"
CENTROIDS = "semdedup_centroids"
GROUPS = "semdedup"
KEYS = ["qa_id", "refiner", "question_hash"]
GROUP_COLUMNS = ["qa_id", "refiner", "cluster_id", "keeper_qa_id", "keeper_refiner", "similarity"]


def enabled(cfg: Config) -> bool:
    return cfg.semdedup.enabled


def question_hash():
    return F.sha2(F.coalesce("question", F.lit("")), 256)


def embed_missing(spark, cfg: Config, lake, pairs, run_id: str) -> Counter:
    """Embed the questions of `pairs` (qa_id, refiner, question) with no row for their text
    and the current encoder."""
    model = cfg.decontam.embed_model
    if not model:
        raise ConfigError("semdedup.enabled needs decontam.embed_model (the question encoder); set one or semdedup.enabled = false")
    todo = pairs.select("qa_id", "refiner", "question").withColumn("question_hash", question_hash()).dropDuplicates(KEYS)
    if lake.exists(EMBEDDINGS):
        done = lake.read(EMBEDDINGS).where(F.col("model") == model).select(*KEYS)
        todo = todo.join(done, KEYS, "left_anti")
    n = todo.count()
    if not n:
        return Counter(semdedup_embedded=0)
    d = cfg.decontam
    schema = T.StructType([f for f in PAIR_EMBEDDINGS.fields if f.name not in ("model", "run_id", "embedded_at")])
    out = (todo.repartition(cfg.spark.shuffle_partitions, "qa_id").mapInPandas(embed_map(model, d.embed_device, d.embed_threads), schema)
           .withColumn("model", F.lit(model)).withColumn("run_id", F.lit(run_id)).withColumn("embedded_at", F.current_timestamp())
           .select(*PAIR_EMBEDDINGS.fieldNames()))
    commit = lake.append(EMBEDDINGS, out, txn=(f"webinstruct.semdedup.embed.{run_id}", 0))
    return Counter(semdedup_embedded=commit.rows)


def embeddings(lake, cfg: Config):
    """One row per (pair, question text) for the current encoder, or None."""
    if not lake.exists(EMBEDDINGS):
        return None
    return lake.read(EMBEDDINGS).where(F.col("model") == cfg.decontam.embed_model).dropDuplicates(KEYS)


def centroids(lake, cfg: Config) -> tuple[str, list[list[float]], int] | None:
    """(fit id, centroids by cluster id, pairs the fit saw) of the latest fit for the encoder."""
    if not lake.exists(CENTROIDS):
        return None
    rows = lake.read(CENTROIDS).where(F.col("model") == cfg.decontam.embed_model)
    latest = rows.agg(F.max(F.struct("fitted_at", "fit_id")).alias("m")).collect()[0]["m"]
    if latest is None:
        return None
    fit = rows.where(F.col("fit_id") == latest["fit_id"]).orderBy("cluster_id").collect()  # k rows, k <= semdedup.max_clusters
    return latest["fit_id"], [list(r["centroid"]) for r in fit], int(fit[0]["pairs"])


def fit(spark, cfg: Config, lake, run_id: str, force: bool = False) -> Counter:
    """k-means over every stored embedding of the encoder, when there is no fit yet, on
    request, or when the embedded questions have grown refit_growth times since the last."""
    rows = embeddings(lake, cfg)
    if rows is None:
        return Counter()
    n = rows.count()
    last = centroids(lake, cfg)
    if n == 0 or (last is not None and not force and n < cfg.semdedup.refit_growth * last[2]):
        return Counter(semdedup_clusters=len(last[1]) if last else 0)
    s = cfg.semdedup
    k = clusters_for(n, s.cluster_size, s.max_clusters)
    if k == 1:  # MLlib wants k >= 2; one cluster's centroid is the mean (one value per dimension comes back)
        means = rows.select(F.posexplode("embedding").alias("i", "x")).groupBy("i").agg(F.avg("x").alias("m")).orderBy("i").collect()
        centers = [[float(r["m"]) for r in means]]
    else:
        vectors = scope.current().persist(rows.select(array_to_vector("embedding").alias("features")))
        model = KMeans(k=k, seed=s.seed, maxIter=s.max_iter, featuresCol="features").fit(vectors)
        centers = [list(map(float, c)) for c in model.clusterCenters()]
    out = spark.createDataFrame(
        [(run_id, cfg.decontam.embed_model, i, c, len(centers), n) for i, c in enumerate(centers)],
        T.StructType([f for f in SEMDEDUP_CENTROIDS.fields if f.name != "fitted_at"]),
    ).withColumn("fitted_at", F.current_timestamp())
    lake.append(CENTROIDS, out, txn=(f"webinstruct.semdedup.fit.{run_id}", 0))
    return Counter(semdedup_clusters=len(centers), semdedup_fitted=1)


def collapse(spark, cfg: Config, lake, candidates, published, run_id: str):
    """(`candidates` without the rewordings of a kept pair, counters). `candidates`: pairs
    about to be published (qa_id, refiner, question, answer, quality); `published`: (qa_id,
    refiner) of the set published before, or None. Writes the groups to `semdedup`."""
    counters = embed_missing(spark, cfg, lake, candidates, run_id)
    counters.update(fit(spark, cfg, lake, run_id))
    fitted = centroids(lake, cfg)
    if fitted is None:
        return candidates, counters
    fit_id, centers, _ = fitted
    mine = candidates.select("qa_id", "refiner", "question", "answer", "quality", question_hash().alias("question_hash"))
    rows = embeddings(lake, cfg).join(mine, KEYS)
    rows = rows.join(published.withColumn("published", F.lit(True)), ["qa_id", "refiner"], "left") if published is not None \
        else rows.withColumn("published", F.lit(None).cast("boolean"))
    rows = rows.select("qa_id", "refiner", "question", "answer", "embedding", F.coalesce("published", F.lit(False)).alias("published"), "quality")
    fields = [f for f in rows.schema.fields if f.name not in ("question", "answer")]
    assigned = rows.mapInPandas(assign_map(centers), T.StructType([
        *fields, T.StructField("facts", T.StringType()), T.StructField("final", T.StringType()),
        T.StructField("cluster_id", T.IntegerType())]))
    schema = T.StructType([T.StructField("qa_id", T.StringType()), T.StructField("refiner", T.StringType()),
                           T.StructField("cluster_id", T.IntegerType()), T.StructField("keeper_qa_id", T.StringType()),
                           T.StructField("keeper_refiner", T.StringType()), T.StructField("similarity", T.DoubleType())])
    grouped = scope.current().materialize(
        assigned.groupBy("cluster_id").applyInPandas(collapse_group(cfg.semdedup.threshold), schema), "semdedup")
    removed = grouped.where((F.col("qa_id") != F.col("keeper_qa_id")) | (F.col("refiner") != F.col("keeper_refiner")))
    rows = removed.select(*GROUP_COLUMNS[:2], "keeper_qa_id", "keeper_refiner", "cluster_id", "similarity",
                          F.lit(cfg.semdedup.threshold).alias("threshold"), F.lit(fit_id).alias("fit_id"),
                          F.lit(run_id).alias("run_id")).select(*SEMDEDUP_GROUPS.fieldNames())
    replace_if_changed(lake, rows)
    counters["semdedup_threshold"] = cfg.semdedup.threshold
    counters["semdedup_removed"] = removed.count()
    counters["semdedup_groups"] = removed.select("keeper_qa_id", "keeper_refiner").distinct().count()
    return candidates.join(removed.select("qa_id", "refiner"), ["qa_id", "refiner"], "left_anti"), counters


def replace_if_changed(lake, rows) -> bool:
    """Rewrite `semdedup` unless it holds the same groups (run ids aside): a rerun without
    new input writes nothing."""
    if lake.exists(GROUPS):
        old = lake.read(GROUPS).drop("run_id")
        new = rows.drop("run_id")
        if old.count() == new.count() and new.exceptAll(old).limit(1).count() == 0:
            return False
    lake.replace(GROUPS, rows)
    return True


def examples(lake, limit: int = 10) -> list[dict]:
    """Groups the last publish collapsed, for the report: the kept question and the
    questions left out as its rewordings (at most 5 each), largest groups first."""
    if not lake.exists(GROUPS) or not lake.exists("webinstruct") or not lake.exists("qa_refined"):
        return []
    groups = lake.read(GROUPS)
    top = (groups.groupBy("keeper_qa_id", "keeper_refiner").agg(F.count("*").alias("n"))
           .orderBy(F.desc("n"), "keeper_qa_id").limit(limit))
    kept = lake.read("webinstruct").select(F.col("qa_id").alias("keeper_qa_id"), F.col("refiner").alias("keeper_refiner"),
                                           F.col("question").alias("kept"))
    questions = lake.read("qa_refined").select("qa_id", "refiner", "question").dropDuplicates(["qa_id", "refiner"])
    left = groups.join(top.select("keeper_qa_id", "keeper_refiner"), ["keeper_qa_id", "keeper_refiner"], "left_semi") \
        .join(questions, ["qa_id", "refiner"])
    best = Window.partitionBy("keeper_qa_id", "keeper_refiner").orderBy(F.desc("similarity"), "qa_id")
    left = left.withColumn("_n", F.row_number().over(best)).where(F.col("_n") <= 5)
    out: dict[tuple, dict] = {}
    for r in top.join(kept, ["keeper_qa_id", "keeper_refiner"]).collect():
        out[(r["keeper_qa_id"], r["keeper_refiner"])] = {"kept": r["kept"], "size": int(r["n"]) + 1, "removed": []}
    for r in left.orderBy(F.desc("similarity"), "qa_id").collect():  # at most 5 per group
        group = out.get((r["keeper_qa_id"], r["keeper_refiner"]))
        if group is not None:
            group["removed"].append({"question": r["question"], "similarity": r["similarity"]})
    return sorted(out.values(), key=lambda g: -g["size"])
