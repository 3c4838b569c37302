"""PII redaction as the `pii` step and publishing share it: which pairs are checked under
which key, the redacted texts that replace the refined ones, and the counts per type.

`pair_pii` keeps one row per (pair, refined texts, pii settings), like `qa_quality`: a rerun
checks only new or rewritten pairs. Publishing checks any pair the step has not seen (so
nothing unchecked is ever published), then takes the redacted texts (`pii.mode = redact`)
or leaves out pairs with findings (`drop`).
"""

from __future__ import annotations

from collections import Counter

from pyspark.sql import Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.tables import PAIR_PII
from webinstruct.jobs.core.views import pair_hash
from webinstruct.lib.pii import PII_VERSION, TYPES
from webinstruct.udfs.pii import FIELDS, pii_map

TABLE = "pair_pii"
KEYS = ["qa_id", "refiner", "pair_hash"]


def enabled(cfg: Config) -> bool:
    return cfg.pii.mode != "off"


def pii_key(cfg: Config) -> str:
    types = ",".join(t for t in TYPES if t in cfg.pii.types)
    return f"{PII_VERSION}:{types}:{cfg.pii.region}"


def check(spark, cfg: Config, lake, pairs, run_id: str) -> Counter:
    """pair_pii rows for `pairs` (qa_id, refiner, question, answer, orig_question,
    orig_answer) with none under the current key; counters of what was found."""
    key = pii_key(cfg)
    todo = pairs.select("qa_id", "refiner", *FIELDS).withColumn("pair_hash", pair_hash())
    if lake.exists(TABLE):
        done = lake.read(TABLE).where(F.col("pii_key") == key).select(*KEYS)
        todo = todo.join(done, KEYS, "left_anti")
    todo = todo.dropDuplicates(KEYS)
    n = todo.count()
    counters: Counter = Counter(pii_pairs_in=n)
    if not n:
        return counters
    schema = T.StructType([f for f in PAIR_PII.fields if f.name not in ("run_id", "checked_at")])
    parts = max(cfg.spark.shuffle_partitions, -(-n // cfg.pii.commit_pairs))
    out = (todo.repartition(parts, "qa_id").mapInPandas(pii_map(cfg.pii.types, cfg.pii.region, key, schema.fieldNames()), schema)
           .withColumn("run_id", F.lit(run_id)).withColumn("checked_at", F.current_timestamp()).select(*PAIR_PII.fieldNames()))
    commit = lake.append(TABLE, out, txn=(f"webinstruct.pii.{run_id}", 0))
    counters["pii_checked"] = commit.rows
    mine = lake.read(TABLE).where((F.col("run_id") == run_id) & (F.col("pii_key") == key))
    counters["pii_pairs_with_findings"] = mine.where(F.col("findings") > 0).count()
    counters.update(type_counts(mine))
    return counters


def type_counts(rows) -> dict[str, int]:
    """{"pii:EMAIL": n, ...} over pair_pii rows (one small aggregation)."""
    found = rows.select(F.explode("counts").alias("c")).groupBy("c.type").agg(F.sum("c.count").alias("n")).collect()
    return {f"pii:{r['type']}": int(r["n"]) for r in found}


def current(lake, cfg: Config):
    """pair_pii rows under the current key (one per pair and texts), or None."""
    if not lake.exists(TABLE):
        return None
    return lake.read(TABLE).where(F.col("pii_key") == pii_key(cfg)).dropDuplicates(KEYS)


def apply(lake, cfg: Config, pairs):
    """`pairs` as they may be published: redacted texts (redact) or without the pairs that
    have findings (drop). Every pair must have been checked (`check`)."""
    if not enabled(cfg):
        return pairs
    rows = current(lake, cfg)
    if rows is None:
        return pairs
    rows = rows.select(*KEYS, F.col("findings").alias("_pii_findings"), *[F.col(f).alias(f"_pii_{f}") for f in FIELDS])
    joined = pairs.withColumn("pair_hash", pair_hash()).join(rows, KEYS, "left")
    if cfg.pii.mode == "drop":
        joined = joined.where(F.coalesce(F.col("_pii_findings"), F.lit(0)) == 0)
    else:
        for f in FIELDS:
            joined = joined.withColumn(f, F.coalesce(F.col(f"_pii_{f}"), F.col(f)))
    return joined.drop("pair_hash", "_pii_findings", *[f"_pii_{f}" for f in FIELDS])


def published_counts(lake, cfg: Config, published) -> dict | None:
    """What redaction did to the published pairs (`published`: rows of webinstruct or a
    filtered export): pairs with findings and findings per type (with `drop`, of the checked
    pairs left out); None when off or unchecked. The published texts are the redacted ones,
    so a pair_pii row is found by its pair."""
    rows = current(lake, cfg) if enabled(cfg) else None
    if rows is None:
        return None
    # drop: the checked pairs with findings (none of them is published: some had failed the gate
    # or decontamination anyway); redact: the published ones
    how = "left_anti" if cfg.pii.mode == "drop" else "left_semi"
    latest = Window.partitionBy("qa_id", "refiner").orderBy(F.desc("checked_at"))  # a rewritten pair counts once
    rows = rows.withColumn("_n", F.row_number().over(latest)).where(F.col("_n") == 1).drop("_n")
    mine = rows.where(F.col("findings") > 0).join(published.select("qa_id", "refiner").distinct(), ["qa_id", "refiner"], how)
    out = {"mode": cfg.pii.mode, "pairs": mine.select("qa_id", "refiner").distinct().count()}
    out["types"] = {k[4:]: v for k, v in sorted(type_counts(mine).items())}
    return out
