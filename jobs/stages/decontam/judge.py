"""Tier 3: tier-2 candidates go to an LLM judge asked in both orders (is this the same
problem?); a question equal to the item after normalisation skips the LLM. Replies stay
in `decontam_judgements`; a verdict is written once both orders have a final reply."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from pyspark.sql import functions as F

from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.contamination import EVIDENCE_CHARS, JUDGEMENTS, TABLE, judge_identity
from webinstruct.jobs.core.errors import DecontamError, LlmStageError
from webinstruct.jobs.core.llm_stage import check_task, engine_spec, generate_slices, preflight
from webinstruct.jobs.core.tables import CONTAMINATION, DECONTAM_JUDGEMENTS
from webinstruct.jobs.core.views import latest_attempt
from webinstruct.jobs.stages.decontam.bench import Bench
from webinstruct.lib.decontam.judge import SameProblemTask
from webinstruct.lib.llm.prompts import load_prompt
from webinstruct.lib.llm.types import Sampling
from webinstruct.udfs.decontam import question_hash_map


def _candidates(lake, bench: Bench, pairs):
    """Tier-2 candidates of the current key with both questions, minus those tier 3 decided."""
    c = lake.read(TABLE).where((F.col("tier") == 2) & (F.col("check_key") == bench.key("pair", 2)) & (F.col("verdict") == "candidate"))
    c = c.select("doc_id", "qa_id", "refiner", "benchmark", "item_id", "score").dropDuplicates(["qa_id", "refiner", "benchmark", "item_id"])
    decided = lake.read(TABLE).where((F.col("tier") == 3) & (F.col("check_key") == bench.key("pair", 3)))
    c = c.join(decided.select("qa_id", "refiner", "benchmark", "item_id"), ["qa_id", "refiner", "benchmark", "item_id"], "left_anti")
    items = lake.spark.createDataFrame(bench.items[["benchmark", "item_id", "question", "question_hash"]]).withColumnRenamed(
        "question", "bench_question")
    return c.join(pairs.select("qa_id", "refiner", "question"), ["qa_id", "refiner"]).join(items, ["benchmark", "item_id"])


def tier3(spark, cfg: Config, lake, bench: Bench, pairs, run_id: str) -> dict:
    counters = Counter()
    if not lake.exists(TABLE):
        return counters
    key = bench.key("pair", 3)
    cands = _candidates(lake, bench, pairs)
    schema = ", ".join(f"{f.name} {f.dataType.simpleString()}" for f in cands.schema.fields) + ", pair_hash string"
    cands = cands.mapInPandas(question_hash_map(), schema)
    scratch = lake.scratch("decontam", run_id, "candidates")
    try:
        cands.write.mode("overwrite").parquet(scratch)
        cands = spark.read.parquet(scratch)
        counters["candidates"] = cands.count()
        if counters["candidates"] == 0:
            return counters
        exact = cands.where(F.col("pair_hash") == F.col("question_hash"))
        counters["exact"] = _write_tier3(lake, exact, "exact", F.lit("contaminated"), key, run_id)
        asked = cands.where(F.col("pair_hash") != F.col("question_hash"))
        counters.update(_judge(spark, cfg, lake, asked, run_id))
        counters["decided"] = _decide(lake, cfg, asked, key, run_id)
    finally:
        lake.remove_tree(scratch)
    return counters


def _write_tier3(lake, rows, method: str, verdict, key: str, run_id: str) -> int:
    now = dt.datetime.now(dt.timezone.utc)
    out = rows.select(
        F.lit("pair").alias("level"), "doc_id", "qa_id", "refiner", F.lit(3).alias("tier"), F.lit(method).alias("method"),
        F.lit("question").alias("field"), "benchmark", "item_id", "score",
        F.substring("bench_question", 1, EVIDENCE_CHARS).alias("evidence"), verdict.alias("verdict"),
        F.lit(key).alias("check_key"), F.lit(run_id).alias("run_id"), F.lit(now).cast("timestamp").alias("checked_at"),
    )
    return lake.append(TABLE, out.select(*CONTAMINATION.fieldNames())).rows


JUDGE_KEYS = ["qa_id", "refiner", "benchmark", "item_id", "pair_hash", "item_hash"]


def _judge_replies(lake, cfg: Config, model: str, version: str):
    """The replies that count: this judge model and prompt, the latest attempt per order;
    engine errors are not final while `retry_errors` holds (they are asked again)."""
    rows = lake.read(JUDGEMENTS).where((F.col("model") == model) & (F.col("prompt_version") == version))
    rows = latest_attempt(rows, [*JUDGE_KEYS, "order"])
    return rows.where(F.col("status") != "engine_error") if cfg.decontam.retry_errors else rows


def _judge_done(lake, cfg: Config, model: str, version: str):
    """Candidates with a final reply in both orders."""
    replies = _judge_replies(lake, cfg, model, version)
    return replies.groupBy(*JUDGE_KEYS).agg(F.countDistinct("order").alias("orders")).where(F.col("orders") == 2).select(*JUDGE_KEYS)


def _judge(spark, cfg: Config, lake, asked, run_id: str) -> dict:
    """Ask the LLM about candidates without a reply from this judge model and prompt."""
    d = cfg.decontam
    if not d.judge:
        return {}
    prompt = load_prompt(d.judge_prompt)
    model = d.judge_model or cfg.llm.model
    todo = asked.select("qa_id", "refiner", "benchmark", "item_id", "pair_hash", F.col("question_hash").alias("item_hash"),
                        "question", "bench_question")
    if lake.exists(JUDGEMENTS):
        todo = todo.join(_judge_done(lake, cfg, model, prompt.version), JUDGE_KEYS, "left_anti")
    if todo.limit(1).count() == 0:
        return {"judged": 0}
    spec = engine_spec(cfg, model)
    try:
        preflight(spark, cfg, spec)

        def make_task(tokenizer):
            return SameProblemTask(prompt, model, tokenizer, cfg.llm.max_model_len, d.judge_max_tokens, d.judge_max_chars)

        check_task(spec, make_task)
    except LlmStageError as exc:
        raise DecontamError(str(exc)) from None
    samp = Sampling(temperature=0.0, top_p=1.0, max_tokens=d.judge_max_tokens, seed=cfg.llm.seed,
                    repetition_penalty=d.judge_repetition_penalty)
    counters = generate_slices(
        spark, cfg, lake, stage="decontam_judge", table=JUDGEMENTS, todo=todo, per_commit=d.judge_commit, spec=spec,
        sampling=samp, make_task=make_task, out_schema=DECONTAM_JUDGEMENTS, stamp="judged_at", run_id=run_id,
        scratch_parts=("decontam", run_id, "judge"),
    )
    return {"judged": counters.get("records_in", 0), "judge_rows": counters.get("rows_written", 0)}


def _decide(lake, cfg: Config, asked, key: str, run_id: str) -> int:
    """Tier-3 rows for candidates whose two replies are final (with `retry_errors`, an
    engine error is asked again first; without, it counts as no answer)."""
    d = cfg.decontam
    if not d.judge or not lake.exists(JUDGEMENTS):
        return 0
    model, version = judge_identity(cfg)
    replies = _judge_replies(lake, cfg, model, version)
    per = replies.groupBy(*JUDGE_KEYS).agg(
        F.countDistinct("order").alias("orders"),
        F.sum(F.when((F.col("status") == "ok") & F.col("same"), 1).otherwise(0)).alias("yes"),
        F.sum(F.when((F.col("status") == "ok") & ~F.col("same"), 1).otherwise(0)).alias("no"),
    ).where(F.col("orders") == 2)
    if d.judge_rule == "either":
        verdict = F.when(F.col("yes") > 0, "contaminated").when(F.col("no") > 0, "clean").otherwise("unparsed")
    else:
        verdict = F.when(F.col("no") > 0, "clean").when(F.col("yes") == 2, "contaminated").otherwise("unparsed")
    decided = asked.withColumn("item_hash", F.col("question_hash")).join(per.withColumn("v", verdict), JUDGE_KEYS)
    return _write_tier3(lake, decided, "judge", F.col("v"), key, run_id)
