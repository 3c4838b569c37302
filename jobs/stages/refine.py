"""Refine: one or more LLMs rewrite each extracted pair into a self-contained instruction
with its reasoning steps -> `qa_refined` (one row per pair and refiner).

Refiners are `refine.models` (default: `llm.model`). With `assign = "hash"` each pair goes
to one refiner chosen by a hash of its qa_id (stable: adding data never reshuffles old
pairs); with "all" every refiner rewrites every pair. Refiners run one after another, so
an executor holds one model at a time. A rewrite that changes the original's final
answer is rejected (`final_answer_changed`). Resumable like extract: commits every
`refine.commit_pairs` pairs; a rerun does only the (pair, refiner, prompt version) rows
that are missing. Pairs a page stated in its markup are exact already: with
`refine.markup = "keep"` they pass through as stated (refiner `as stated`), no LLM request.

    webinstruct refine
"""

from __future__ import annotations

from collections import Counter

from pyspark.sql import functions as F

from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.errors import LlmStageError
from webinstruct.jobs.core.lake import Lake
from webinstruct.jobs.core.lease import writes
from webinstruct.jobs.core.llm_stage import check_task, engine_spec, generate_slices, preflight, sampling, status_counters
from webinstruct.jobs.core.runs import RunRecorder
from webinstruct.jobs.core.summary import llm_summary
from webinstruct.jobs.core.tables import QA_REFINED
from webinstruct.jobs.core.views import current_pairs, latest_attempt
from webinstruct.lib.llm.prompts import PromptError, load_prompt
from webinstruct.lib.qa.parse import Limits
from webinstruct.lib.qa.tasks import AS_STATED, MARKUP_VERSION, RefineTask

TABLE = "qa_refined"
SOURCE = "qa_extracted"


def refiners(cfg: Config) -> list[str]:
    return list(cfg.refine.models) or [cfg.llm.model]


def assigned(pairs, models: list[str], index: int, mode: str):
    if mode == "all" or len(models) == 1:
        return pairs
    return pairs.where(F.pmod(F.xxhash64("qa_id"), F.lit(len(models))) == index)


@writes("refine")
def run(spark, cfg: Config, lake: Lake) -> dict:
    r = cfg.refine
    try:
        prompt = load_prompt(r.prompt)
    except PromptError as exc:
        raise LlmStageError(f"refine.prompt: {exc}") from None
    if not lake.exists(SOURCE):
        raise LlmStageError(f"no table {SOURCE!r} in lake {lake.root} (run extract first)")
    models = refiners(cfg)
    tokenizers = list(r.tokenizers) or [None] * len(models)
    specs = [engine_spec(cfg, m, t) for m, t in zip(models, tokenizers)]
    for spec in specs:
        preflight(spark, cfg, spec)
    recorder = RunRecorder(lake, "refine", cfg, args={"models": models, "assign": r.assign, "prompt_version": prompt.version})
    pairs = current_pairs(lake).where(F.col("status") == "ok")
    kept = Counter()
    if r.markup == "keep" and "method" in pairs.columns:
        kept = _keep_markup(lake, pairs.where(F.col("method") == "markup"), recorder.run_id)
        pairs = pairs.where(F.col("method").isNull() | (F.col("method") != "markup"))
    pairs = pairs.select("qa_id", "doc_id", "orig_question", "orig_answer").dropDuplicates(["qa_id"])
    limits = Limits(r.max_question_chars, r.max_answer_chars)
    samp = sampling(r, cfg.llm.seed)
    totals: Counter = Counter()
    max_model_len, max_tokens, check = cfg.llm.max_model_len, r.max_tokens, r.check_final_answer
    for i, spec in enumerate(specs):
        todo = assigned(pairs, models, i, r.assign)
        if lake.exists(TABLE):
            done = lake.read(TABLE).where(F.col("prompt_version") == prompt.version)
            if r.assign == "all" or len(models) == 1:
                done = done.where(F.col("refiner") == spec.model)
            # hash: a pair any refiner already rewrote is done, so editing refine.models
            # never sends old pairs to a second model
            if r.retry_errors:
                latest = latest_attempt(done, ["qa_id", "refiner"])
                done = latest.where(F.col("status") != "engine_error")
            todo = todo.join(done.select("qa_id").distinct(), "qa_id", "left_anti")

        def make_task(tokenizer, spec=spec):
            return RefineTask(prompt, spec.model, tokenizer, max_model_len, max_tokens, limits, check)

        check_task(spec, make_task)
        counters = generate_slices(
            spark, cfg, lake, stage=f"refine{i}", table=TABLE, todo=todo, per_commit=r.commit_pairs, spec=spec,
            sampling=samp, make_task=make_task, out_schema=QA_REFINED, stamp="refined_at", run_id=recorder.run_id,
            scratch_parts=("refine", recorder.run_id, str(i)),
        )
        totals.update(counters)
    totals["pairs_in"] = totals.pop("records_in", 0)
    totals["refiners"] = len(models)
    totals.update(kept)
    totals.update(status_counters(lake, TABLE, recorder.run_id))
    counters = dict(totals)
    recorder.finish("ok", counters)
    return counters


def _keep_markup(lake: Lake, pairs, run_id: str) -> Counter:
    """qa_refined rows for markup pairs, as the page stated them: one commit, no LLM."""
    todo = pairs.dropDuplicates(["qa_id"])
    if lake.exists(TABLE):
        done = lake.read(TABLE).where(F.col("refiner") == AS_STATED).select("qa_id")
        todo = todo.join(done, "qa_id", "left_anti")
    out = todo.select(
        "qa_id", F.lit(AS_STATED).alias("refiner"), "doc_id", F.lit("ok").alias("status"),
        F.lit(None).cast("string").alias("reject_reason"), F.col("orig_question").alias("question"),
        F.col("orig_answer").alias("answer"), "orig_question", "orig_answer", F.lit(None).cast("string").alias("raw_output"),
        F.lit(None).cast("string").alias("finish_reason"), F.lit(None).cast("string").alias("error"),
        F.lit(AS_STATED).alias("model"), F.lit(MARKUP_VERSION).alias("prompt_version"), F.lit(0).cast("long").alias("prompt_tokens"),
        F.lit(0).cast("long").alias("completion_tokens"), F.lit(None).cast("string").alias("generation_id"),
        F.lit(run_id).alias("run_id"), F.current_timestamp().alias("refined_at"),
    ).select(*QA_REFINED.fieldNames())
    commit = lake.append(TABLE, out, txn=(f"webinstruct.refine.markup.{run_id}", 0))
    return Counter(markup_kept=commit.rows)


def summary_rows(counters: dict, lake: Lake | None = None) -> list[tuple[str, object]]:
    return ([("refiners", counters.get("refiners", 0)), ("markup pairs kept as stated (no LLM)", counters.get("markup_kept", 0))]
            + llm_summary(counters, "pairs in (new, all refiners)", "pairs_in"))
