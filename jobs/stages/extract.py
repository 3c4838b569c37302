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

from collections import Counter

from pyspark.sql import functions as F
from pyspark.sql import types as T

from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.errors import LlmStageError, MissingInput
from webinstruct.jobs.core.lake import Lake
from webinstruct.jobs.core.lease import writes
from webinstruct.jobs.core.llm_stage import check_task, engine_spec, generate_slices, preflight, sampling, status_counters
from webinstruct.jobs.core.runs import RunRecorder
from webinstruct.jobs.core.summary import llm_summary
from webinstruct.jobs.core.tables import QA_EXTRACTED
from webinstruct.jobs.core.views import latest_attempt, read_source
from webinstruct.lib.llm.prompts import PromptError, load_prompt
from webinstruct.lib.qa.parse import Limits
from webinstruct.lib.qa.tasks import ExtractTask
from webinstruct.udfs.markup import markup_map

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


@writes("extract")
def run(spark, cfg: Config, lake: Lake) -> dict:
    e = cfg.extract
    try:
        prompt = load_prompt(e.prompt)
    except PromptError as exc:
        raise LlmStageError(f"extract.prompt: {exc}") from None
    spec = engine_spec(cfg)
    preflight(spark, cfg, spec)
    docs = read_documents(lake, e.input)
    recorder = RunRecorder(lake, "extract", cfg, args={"input": e.input, "model": spec.model, "prompt_version": prompt.version})
    todo = docs.select("doc_id", "url", "title", "text")
    if lake.exists(TABLE):
        todo = todo.join(done_documents(lake, spec.model, prompt.version, e.retry_errors), "doc_id", "left_anti")

    limits = Limits(e.max_question_chars, e.max_answer_chars)
    markup = Counter()
    if e.markup != "ignore" and lake.exists("qa_markup"):
        markup = _markup_pairs(lake, docs, limits, recorder.run_id)
        if e.markup == "prefer":  # the page said it itself: no LLM request for it
            todo = todo.join(lake.read("qa_markup").select("doc_id").distinct(), "doc_id", "left_anti")
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
    counters.update(markup)
    counters.update(status_counters(lake, TABLE, recorder.run_id))
    if lake.exists(TABLE):
        pairs = lake.read(TABLE).where((F.col("run_id") == recorder.run_id) & (F.col("status") == "ok"))
        counters["documents_with_pairs"] = pairs.select("doc_id").distinct().count()
    recorder.finish("ok", counters)
    return counters


def _markup_pairs(lake: Lake, docs, limits: Limits, run_id: str) -> Counter:
    """qa_extracted rows (method markup) for input documents with qa_markup pairs and no
    markup rows yet: one commit, before any LLM work."""
    rows = lake.read("qa_markup").join(docs.select("doc_id"), "doc_id", "left_semi")
    if lake.exists(TABLE):
        stored = lake.read(TABLE)
        if "method" not in stored.columns:
            raise LlmStageError(f"{TABLE} predates markup pairs (no `method` column): set extract.markup = \"ignore\" "
                                "or extract into a new lake")
        rows = rows.join(stored.where(F.col("method") == "markup").select("doc_id").distinct(), "doc_id", "left_anti")
    schema = T.StructType([f for f in QA_EXTRACTED.fields if f.name not in ("run_id", "extracted_at")])
    out = (rows.groupBy("doc_id").applyInPandas(markup_map(limits, schema.fieldNames()), schema)
           .withColumn("run_id", F.lit(run_id)).withColumn("extracted_at", F.current_timestamp())
           .select(*QA_EXTRACTED.fieldNames()))
    commit = lake.append(TABLE, out, txn=(f"webinstruct.extract.markup.{run_id}", 0))
    counters = Counter(markup_rows=commit.rows)
    if commit.rows:
        written = lake.read(TABLE).where((F.col("run_id") == run_id) & (F.col("method") == "markup"))
        counters["markup_documents"] = written.select("doc_id").distinct().count()
        counters["markup_pairs_ok"] = written.where(F.col("status") == "ok").count()
    return counters


def summary_rows(counters: dict, lake: Lake | None = None) -> list[tuple[str, object]]:
    return [
        ("documents with markup pairs (no LLM)", counters.get("markup_documents", 0)),
        ("markup pairs (ok)", counters.get("markup_pairs_ok", 0)),
    ] + llm_summary(counters, "documents in (new)", "documents_in") + [
        ("documents with pairs", counters.get("documents_with_pairs", 0)),
    ]
