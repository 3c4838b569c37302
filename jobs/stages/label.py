"""Label: each refined pair's final answer, its type, whether it is verifiable, and the
question's subject -> `pair_labels`.

What reinforcement learning with verifiable rewards filters on (WebInstruct-verified's
`answer_type`): the final answer found the way votes find it, typed by rules
(lib/qa/answer_types.py), and `verifiable` when it is short and closed-form. Incremental: a
rerun labels only pairs with no row for their current texts and the rules' version; a
rewrite by refine or new rules label again.

    webinstruct label
"""

from __future__ import annotations

from collections import Counter

from pyspark.sql import functions as F
from pyspark.sql import types as T

from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.errors import MissingInput
from webinstruct.jobs.core.labels import label_key
from webinstruct.jobs.core.lake import Lake
from webinstruct.jobs.core.lease import writes
from webinstruct.jobs.core.runs import RunRecorder
from webinstruct.jobs.core.tables import PAIR_LABELS
from webinstruct.jobs.core.views import pair_hash, refined_pairs
from webinstruct.udfs.labels import label_map

TABLE = "pair_labels"
SOURCE = "qa_refined"


@writes("label")
def run(spark, cfg: Config, lake: Lake) -> dict:
    if not lake.exists(SOURCE):
        raise MissingInput(f"no table {SOURCE!r} in lake {lake.root} (run refine first)")
    key = label_key(cfg)
    recorder = RunRecorder(lake, "label", cfg, args={"label_key": key})
    pairs = refined_pairs(lake).withColumn("pair_hash", pair_hash()).withColumn("label_key", F.lit(key))
    if lake.exists(TABLE):
        done = lake.read(TABLE).where(F.col("label_key") == key).select("qa_id", "refiner", "pair_hash")
        pairs = pairs.join(done, ["qa_id", "refiner", "pair_hash"], "left_anti")
    todo = pairs.select("qa_id", "refiner", "doc_id", "question", "answer", "pair_hash", "label_key")
    n = todo.count()
    counters: Counter = Counter(pairs_in=n)
    if n:
        schema = T.StructType([f for f in PAIR_LABELS.fields if f.name not in ("run_id", "labelled_at")])
        out = (todo.repartition(cfg.spark.shuffle_partitions, "qa_id")
               .mapInPandas(label_map(schema.fieldNames(), cfg.decontam.embed_model if cfg.label.subject else "",
                                      cfg.decontam.embed_device, cfg.decontam.embed_threads), schema)
               .withColumn("run_id", F.lit(recorder.run_id)).withColumn("labelled_at", F.current_timestamp())
               .select(*PAIR_LABELS.fieldNames()))
        commit = lake.append(TABLE, out, txn=(f"webinstruct.label.{recorder.run_id}", 0))
        counters["labelled"] = commit.rows
        written = lake.read(TABLE).where(F.col("run_id") == recorder.run_id)
        for row in written.groupBy("answer_type", "verifiable").count().collect():
            counters[f"type:{row['answer_type']}"] += row["count"]
            counters["verifiable" if row["verifiable"] else "not_verifiable"] += row["count"]
        for row in written.where(F.col("category").isNotNull()).groupBy("category").count().collect():
            counters[f"category:{row['category']}"] += row["count"]
    counters = dict(counters)
    recorder.finish("ok", counters)
    return counters


def summary_rows(counters: dict, lake: Lake | None = None) -> list[tuple[str, object]]:
    rows = [("pairs labelled (new)", counters.get("labelled", 0)), ("verifiable", counters.get("verifiable", 0)),
            ("not verifiable", counters.get("not_verifiable", 0))]
    kinds = sorted(((k.split(":", 1)[1], v) for k, v in counters.items() if k.startswith("type:")), key=lambda kv: -kv[1])
    rows += [(f"  {kind}", count) for kind, count in kinds]
    subjects = sorted(((k.split(":", 1)[1], v) for k, v in counters.items() if k.startswith("category:")), key=lambda kv: -kv[1])
    if subjects:
        rows += [("subjects", sum(v for _, v in subjects))] + [(f"  {name}", count) for name, count in subjects]
    return rows
