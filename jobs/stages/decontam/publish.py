"""The published set: `webinstruct` rebuilt from the refined pairs every enabled tier has
checked and none flagged, with lineage to the WARC record; an unchanged result writes nothing."""

from __future__ import annotations

from pyspark.sql import functions as F

from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.contamination import CHECKED, current_contamination
from webinstruct.jobs.core.tables import WEBINSTRUCT
from webinstruct.jobs.core.views import current_pairs, refined_pairs
from webinstruct.jobs.stages.decontam.bench import Bench
from webinstruct.jobs.stages.decontam.tiers import unit_id

PUBLISHED = "webinstruct"


def publish(spark, cfg: Config, lake, bench: Bench | None, run_id: str = "manual") -> dict:
    """Rebuild `webinstruct` from the refined pairs; write only when the result changed."""
    d = cfg.decontam
    pairs = refined_pairs(lake)
    if bench is not None:
        current = current_contamination(lake, bench.keys if bench else None, cfg)
        needs = [(1, bench.key("pair", 1))] + ([(2, bench.key("pair", 2))] if d.embed else [])
        pairs = pairs.withColumn("unit_id", unit_id("pair"))
        for tier, key in needs:  # a pair not checked yet by an enabled tier waits
            if not lake.exists(CHECKED):
                pairs = pairs.limit(0)
                break
            done = lake.read(CHECKED).where((F.col("level") == "pair") & (F.col("tier") == tier) & (F.col("check_key") == key))
            pairs = pairs.join(done.select("unit_id"), "unit_id", "left_semi")
        pairs = pairs.drop("unit_id")
        if current is not None:
            bad = F.col("verdict") == "contaminated"
            if d.unparsed == "drop":
                bad = bad | ((F.col("tier") == 3) & (F.col("verdict") == "unparsed"))
            pages = current.where((F.col("level") == "page") & bad).select("doc_id").distinct()
            flagged = current.where((F.col("level") == "pair") & bad).select("qa_id", "refiner").distinct()
            pairs = pairs.join(pages, "doc_id", "left_anti").join(flagged, ["qa_id", "refiner"], "left_anti")
            if d.embed and d.judge:  # candidates the judge has not decided yet wait
                cands = current.where((F.col("tier") == 2) & (F.col("verdict") == "candidate")).select("qa_id", "refiner", "benchmark", "item_id")
                decided = current.where(F.col("tier") == 3).select("qa_id", "refiner", "benchmark", "item_id")
                waiting = cands.join(decided, ["qa_id", "refiner", "benchmark", "item_id"], "left_anti").select("qa_id", "refiner").distinct()
                pairs = pairs.join(waiting, ["qa_id", "refiner"], "left_anti")
    docs = lake.read("documents").select("doc_id", "url", "domain", "crawl", "warc_path", "warc_offset", "warc_record_id")
    extracted = current_pairs(lake).select("qa_id", F.col("model").alias("extract_model"),
                                           F.col("prompt_version").alias("extract_prompt_version")).dropDuplicates(["qa_id"])
    out = (
        pairs.join(docs, "doc_id", "left").join(extracted, "qa_id", "left")
        .withColumn("index", F.xxhash64("qa_id", "refiner").bitwiseAND(F.lit(0x7FFFFFFFFFFFFFFF)))
        .withColumn("source", F.coalesce("domain", F.lit("")))
        .withColumn("refine_prompt_version", F.col("prompt_version"))
        .select(*WEBINSTRUCT.fieldNames())
    )
    scratch = lake.scratch("decontam", "publish", run_id)
    try:
        out.write.mode("overwrite").parquet(scratch)
        out = spark.read.parquet(scratch)
        total = out.count()
        if lake.exists(PUBLISHED):
            old = lake.read(PUBLISHED).select(*WEBINSTRUCT.fieldNames())
            if old.count() == total and out.exceptAll(old).limit(1).count() == 0:
                return {"published": total, "published_changed": 0}
        lake.replace(PUBLISHED, out)
    finally:
        lake.remove_tree(scratch)
    return {"published": total, "published_changed": 1}
