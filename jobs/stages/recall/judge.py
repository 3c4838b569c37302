"""The LLM domain judge: candidate domains not judged yet by this model and prompt, a
seeded sample of pages each, replies in `domain_verdicts`, verdicts carried into `domains`."""

from __future__ import annotations

from pyspark.sql import Window
from pyspark.sql import functions as F

from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.errors import LlmStageError, RecallError
from webinstruct.jobs.core.lake import Lake
from webinstruct.jobs.core.lease import writes
from webinstruct.jobs.core.llm_stage import check_task, engine_spec, generate_slices, preflight, status_counters
from webinstruct.jobs.core.runs import RunRecorder
from webinstruct.jobs.core.tables import DOMAIN_VERDICTS
from webinstruct.jobs.core.views import latest_attempt
from webinstruct.jobs.stages.recall.domains import domains
from webinstruct.jobs.stages.recall.rounds import documents
from webinstruct.lib.llm.prompts import PromptError, load_prompt
from webinstruct.lib.llm.types import Sampling
from webinstruct.lib.recall.judge import DomainJudgeTask


def judge_spec(cfg: Config):
    return engine_spec(cfg, cfg.recall.judge_model or None)


def judged_domains(lake: Lake, model: str, prompt_version: str, retry_errors: bool):
    """Domains the judge model and prompt already answered (latest attempt not an engine
    error when `retry_errors`)."""
    rows = lake.read("domain_verdicts").where((F.col("model") == model) & (F.col("prompt_version") == prompt_version))
    if retry_errors:
        rows = latest_attempt(rows, ["domain"]).where(F.col("status") != "engine_error")
    return rows.select("domain").distinct()


def judge_samples(docs, domains_df, n: int, snippet_chars: int, seed: int):
    """(domain, samples): per domain, `n` pages picked by a seeded hash, as a JSON list of
    URL, title and the head of the text."""
    pages = docs.join(domains_df.select("domain"), "domain", "left_semi")
    order = Window.partitionBy("domain").orderBy(F.xxhash64("doc_id", F.lit(seed)), "doc_id")
    picked = pages.withColumn("_n", F.row_number().over(order)).where(F.col("_n") <= n)
    page = F.struct("_n", "url", "title", F.substring("text", 1, snippet_chars * 2).alias("text"))
    ordered = F.sort_array(F.collect_list(page))
    as_json = F.to_json(F.transform(ordered, lambda p: F.struct(p["url"].alias("url"), p["title"].alias("title"), p["text"].alias("text"))))
    return picked.groupBy("domain").agg(as_json.alias("samples"))


@writes("recall")
def judge(spark, cfg: Config, lake: Lake, round_no: int = 1) -> dict:
    """Ask the LLM about the round's candidate domains not judged yet; then refresh `domains`."""
    r = cfg.recall
    if not lake.exists("domains") or lake.read("domains").where(F.col("round") == round_no).limit(1).count() == 0:
        raise RecallError(f"no domain statistics for round {round_no} (run `webinstruct recall domains --round {round_no}`)")
    try:
        prompt = load_prompt(r.judge_prompt)
    except PromptError as exc:
        raise RecallError(f"recall.judge_prompt: {exc}") from None
    spec = judge_spec(cfg)
    try:
        preflight(spark, cfg, spec)
    except LlmStageError as exc:
        raise RecallError(str(exc)) from None
    candidates = lake.read("domains").where((F.col("round") == round_no) & F.col("candidate"))
    candidates = candidates.select("domain", "round", "documents", "recalled")
    if lake.exists("domain_verdicts"):
        candidates = candidates.join(judged_domains(lake, spec.model, prompt.version, r.retry_errors), "domain", "left_anti")
    samples = judge_samples(documents(lake, cfg), candidates, r.judge_samples, r.snippet_chars, r.sample_seed)
    todo = candidates.join(samples, "domain", "left").select("domain", "round", "documents", "recalled", "samples")
    recorder = RunRecorder(lake, f"recall.judge.{round_no}", cfg, args={"round": round_no, "model": spec.model, "prompt_version": prompt.version})
    sampling = Sampling(temperature=0.0, top_p=1.0, max_tokens=r.judge_max_tokens, seed=cfg.llm.seed,
                        repetition_penalty=r.judge_repetition_penalty)
    max_model_len, max_tokens, snippet_chars = cfg.llm.max_model_len, r.judge_max_tokens, r.snippet_chars

    def make_task(tokenizer):
        return DomainJudgeTask(prompt, spec.model, tokenizer, max_model_len, max_tokens, snippet_chars)

    try:
        check_task(spec, make_task)
    except LlmStageError as exc:
        raise RecallError(str(exc)) from None
    counters = generate_slices(
        spark, cfg, lake, stage="recall.judge", table="domain_verdicts", todo=todo, per_commit=r.judge_commit, spec=spec,
        sampling=sampling, make_task=make_task, out_schema=DOMAIN_VERDICTS, stamp="judged_at", run_id=recorder.run_id,
        scratch_parts=("judge", recorder.run_id),
    )
    counters["judged"] = counters.pop("records_in")
    counters.update(status_counters(lake, "domain_verdicts", recorder.run_id))
    if counters["judged"]:
        mine = lake.read("domain_verdicts").where((F.col("run_id") == recorder.run_id) & (F.col("status") == "ok"))
        counters["accepted"] = mine.where(F.col("educational")).count()
        counters["rejected"] = mine.where(~F.col("educational")).count()
    recorder.finish("ok", counters)
    if counters["judged"]:
        domains(spark, cfg, lake, round_no)  # carry the new verdicts into the round's rows
    return counters
