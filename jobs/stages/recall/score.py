"""Score documents with the round's current model: a pandas UDF, the model shipped once."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import functions as F

from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.errors import RecallError
from webinstruct.jobs.core.lake import Lake
from webinstruct.jobs.core.lease import writes
from webinstruct.jobs.core.runs import RunRecorder
from webinstruct.jobs.core.session import ship_file
from webinstruct.jobs.core.tables import RECALL_SCORES
from webinstruct.jobs.stages.recall.rounds import KIND, current_model, documents, rows_of_run
from webinstruct.udfs.recall import page_head, score_udf


@writes("recall")
def score(spark, cfg: Config, lake: Lake, round_no: int = 1) -> dict:
    """Score documents that have no score from the round's current model."""
    model = current_model(lake, round_no)
    if model is None:
        raise RecallError(f"no recall model for round {round_no} (run `webinstruct recall train --round {round_no}`)")
    docs = documents(lake, cfg)
    todo = docs.select("doc_id", "text")
    if lake.exists("recall_scores"):
        done = lake.read("recall_scores").where(F.col("model_id") == model["model_id"]).select("doc_id")
        todo = todo.join(done, "doc_id", "left_anti")
    recorder = RunRecorder(lake, f"recall.score.{round_no}", cfg, args={"round": round_no, "model_id": model["model_id"]})
    rel = f"_models/{KIND}/{model['path'].rstrip('/').rsplit('/', 1)[-1]}"
    name = ship_file(spark, model["path"], lambda local: lake.fetch_file(rel, local))
    udf = score_udf(name, model["path"], cfg.recall.max_words)
    now = dt.datetime.now(dt.timezone.utc)
    out = todo.select(
        "doc_id", F.lit(round_no).cast("int").alias("round"), udf(page_head("text", cfg.recall.max_words)).alias("score"),
        F.lit(model["model_id"]).alias("model_id"), F.lit(recorder.run_id).alias("run_id"),
        F.lit(now).cast("timestamp").alias("scored_at"),
    )
    commit = lake.append("recall_scores", out.select(*RECALL_SCORES.fieldNames()))
    counters = {"scored": rows_of_run(lake, "recall_scores", recorder.run_id, commit)}
    if counters["scored"]:
        mine = lake.read("recall_scores").where(F.col("run_id") == recorder.run_id)
        counters["recalled"] = mine.where(F.col("score") >= cfg.recall.threshold).count()
    recorder.finish("ok", counters)
    return counters
