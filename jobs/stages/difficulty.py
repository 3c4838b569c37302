"""Difficulty: each voted question's pass rate for its teacher, binned -> `question_difficulty`.

synthesize draws n solutions per question and groups their final answers by equivalence
(solution_votes); the pass rate is the share of the n that reach the reference, the page's
own final answer when it has one, else the majority; with `synthesize.verifier = llm`, a
group the LLM verifier called equal to the page's answer passes too (reference_kind
page_llm). Bins (label.easy, label.medium):
easy, medium, hard (above 0), unsolved. One row per question and vote key (the teacher,
its prompt and sampling settings), so two teachers give two rows. Incremental: a rerun
bins only votes with no row under the current rule and bins; new bins bin everything again.

    webinstruct difficulty
"""

from __future__ import annotations

from collections import Counter

from pyspark.sql import functions as F
from pyspark.sql import types as T

from webinstruct.jobs.core import verdicts
from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.labels import difficulty_key
from webinstruct.jobs.core.lake import Lake
from webinstruct.jobs.core.lease import writes
from webinstruct.jobs.core.runs import RunRecorder
from webinstruct.jobs.core.tables import QUESTION_DIFFICULTY
from webinstruct.lib.qa.levels import LEVELS
from webinstruct.udfs.labels import difficulty_map

TABLE = "question_difficulty"
SOURCE = "solution_votes"


@writes("difficulty")
def run(spark, cfg: Config, lake: Lake) -> dict | None:
    """None when there is nothing to bin (no solution_votes: synthesize has not run)."""
    if not lake.exists(SOURCE):
        return None
    key = difficulty_key(cfg)
    recorder = RunRecorder(lake, "difficulty", cfg, args={"difficulty_key": key})
    votes = lake.read(SOURCE).dropDuplicates(["question_id", "vote_key"]).withColumn("difficulty_key", F.lit(key))
    if lake.exists(TABLE):
        done = lake.read(TABLE).where(F.col("difficulty_key") == key).select("question_id", "vote_key")
        votes = votes.join(done, ["question_id", "vote_key"], "left_anti")
    todo = votes.select("question_id", "vote_key", "synth_key", "difficulty_key", "source", "qa_id", "refiner", "doc_id",
                        "samples", "groups", "reference_answer", "majority_answer")
    judged = verdicts.judged(lake, cfg)  # synthesize.verifier = llm: its verdicts match groups to the page's answer
    if judged is not None:
        todo = todo.join(judged, "question_id", "left")
    n = todo.count()
    counters: Counter = Counter(questions_in=n)
    if n:
        schema = T.StructType([f for f in QUESTION_DIFFICULTY.fields if f.name not in ("run_id", "computed_at")])
        fn = difficulty_map(schema.fieldNames(), cfg.label.easy, cfg.label.medium, cfg.synthesize.answer_timeout_s)
        out = (todo.repartition(cfg.spark.shuffle_partitions, "question_id").mapInPandas(fn, schema)
               .withColumn("run_id", F.lit(recorder.run_id)).withColumn("computed_at", F.current_timestamp())
               .select(*QUESTION_DIFFICULTY.fieldNames()))
        commit = lake.append(TABLE, out, txn=(f"webinstruct.difficulty.{recorder.run_id}", 0))
        counters["binned"] = commit.rows
        written = lake.read(TABLE).where(F.col("run_id") == recorder.run_id)
        for row in written.groupBy("difficulty", "reference_kind").count().collect():
            counters[f"level:{row['difficulty']}"] += row["count"]
            counters[f"reference:{row['reference_kind']}"] += row["count"]
    counters = dict(counters)
    recorder.finish("ok", counters)
    return counters


def summary_rows(counters: dict, lake: Lake | None = None) -> list[tuple[str, object]]:
    rows = [("questions binned (new)", counters.get("binned", 0))]
    rows += [(f"  {name}", counters.get(f"level:{name}", 0)) for name in LEVELS]
    rows += [("against the page's own answer", counters.get("reference:page", 0)),
             ("  found by the LLM verifier", counters.get("reference:page_llm", 0)),
             ("against the majority", counters.get("reference:majority", 0))]
    return rows
