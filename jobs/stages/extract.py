"""Extract: an LLM reads each new document and lists the question-answer pairs it contains
-> `qa_extracted`.

Long pages are cut into overlapping windows of the model's context (lib.llm.chunking);
pairs found in two windows are merged. Every reply is parsed and validated
(lib.qa.parse); each document leaves at least one row, so its status is queryable and a
rerun knows it is done. Work commits every `extract.commit_docs` documents
(jobs/core/llm_stage.py); a rerun does only the (document, model, prompt version) triples with
no row yet, plus those whose last attempt was an engine error when `retry_errors`.

    webinstruct extract
"""

from __future__ import annotations

from pyspark.sql import functions as F
from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.errors import LlmStageError, MissingInput
from webinstruct.jobs.core.lake import Lake
from webinstruct.jobs.core.llm_stage import check_model, check_task, engine_spec, generate_slices, sampling, status_counters
from webinstruct.jobs.core.runs import RunRecorder
from webinstruct.jobs.core.summary import llm_summary
from webinstruct.jobs.core.tables import QA_EXTRACTED
from webinstruct.jobs.core.views import latest_attempt, read_source
from webinstruct.lib.llm.prompts import PromptError, load_prompt
from webinstruct.lib.qa.parse import Limits
from webinstruct.lib.qa.tasks import ExtractTask

TABLE = "qa_extracted"


def read_documents(lake: Lake, name: str):
    try:
        return read_source(lake, "extract.input", name)
    except MissingInput as exc:
        raise LlmStageError(str(exc)) from None


def done_documents(lake: Lake, model: str, prompt_version: str, retry_errors: bool):
    """Documents this model and prompt version already answered for: any attempt, or with
    `retry_errors` only those whose latest attempt had no engine error (an error retries
    the whole page; the failed attempt's rows stay as history)."""
    rows = lake.read(TABLE).where((F.col("model") == model) & (F.col("prompt_version") == prompt_version))
    if not retry_errors:
        return rows.select("doc_id").distinct()
    latest = latest_attempt(rows, ["doc_id"])
    per_doc = latest.groupBy("doc_id").agg(F.max((F.col("status") == "engine_error").cast("int")).alias("err"))
    return per_doc.where("err = 0").select("doc_id")


def run(spark, cfg: Config, lake: Lake) -> dict:
    e = cfg.extract
    try:
        prompt = load_prompt(e.prompt)
    except PromptError as exc:
        raise LlmStageError(f"extract.prompt: {exc}") from None
    docs = read_documents(lake, e.input)
    spec = engine_spec(cfg)
    check_model(spec)
    recorder = RunRecorder(lake, "extract", cfg, args={"input": e.input, "model": spec.model, "prompt_version": prompt.version})
    todo = docs.select("doc_id", "url", "title", "text")
    if lake.exists(TABLE):
        todo = todo.join(done_documents(lake, spec.model, prompt.version, e.retry_errors), "doc_id", "left_anti")

    limits = Limits(e.max_question_chars, e.max_answer_chars)
    samp = sampling(e, cfg.llm.seed)
    max_model_len, max_tokens, overlap, max_chunks = cfg.llm.max_model_len, e.max_tokens, e.chunk_overlap, e.max_chunks

    def make_task(tokenizer):
        return ExtractTask(prompt, spec.model, tokenizer, max_model_len, max_tokens, overlap, max_chunks, limits)

    check_task(spec, make_task)
    counters = generate_slices(
        spark, cfg, lake, stage="extract", table=TABLE, todo=todo, per_commit=e.commit_docs, spec=spec, sampling=samp,
        make_task=make_task, out_schema=QA_EXTRACTED, stamp="extracted_at", run_id=recorder.run_id,
        scratch_parts=("extract", recorder.run_id),
    )
    counters["documents_in"] = counters.pop("records_in")
    counters.update(status_counters(lake, TABLE, recorder.run_id))
    if lake.exists(TABLE):
        pairs = lake.read(TABLE).where((F.col("run_id") == recorder.run_id) & (F.col("status") == "ok"))
        counters["documents_with_pairs"] = pairs.select("doc_id").distinct().count()
    recorder.finish("ok", counters)
    return counters


def summary_rows(counters: dict, lake: Lake | None = None) -> list[tuple[str, object]]:
    return llm_summary(counters, "documents in (new)", "documents_in") + [
        ("documents with pairs", counters.get("documents_with_pairs", 0)),
    ]
