"""What the LLM stages share: engine spec and sampling from config, GPU scheduling, and the
commit loop that makes a days-long stage resumable.

Resume inside a stage: the documents (or pairs) still to do are written once to scratch,
split into slices of `commit_docs`, and each slice is generated and committed as its own
Delta transaction (transaction id = run id + slice number). A crash loses at most the
slice in flight; the rerun's anti-join skips every slice that committed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import time
from pathlib import Path

from pyspark.errors import AnalysisException
from pyspark.resource import ResourceProfileBuilder, TaskResourceRequests
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.console import CONSOLE
from webinstruct.jobs.core.errors import LlmStageError
from webinstruct.jobs.core.session import is_connect, parallelism
from webinstruct.lib.llm.offline import default_model_dir, is_prepared, prepare
from webinstruct.lib.llm.spec import OFFLINE, EngineSpec
from webinstruct.lib.llm.tokenizer import load_tokenizer
from webinstruct.lib.llm.types import Sampling
from webinstruct.udfs.llm import llm_map

log = logging.getLogger("webinstruct.llm")


def engine_spec(cfg: Config, model: str | None = None, tokenizer: str | None = None) -> EngineSpec:
    """`llm.tokenizer` belongs to `llm.model`; another model (a second refiner) uses its own
    unless `tokenizer` is given."""
    m = cfg.llm
    model = model or m.model
    if tokenizer is None:
        tokenizer = m.tokenizer if model == m.model else ""
    return EngineSpec(
        kind=m.engine, model=model, tokenizer=tokenizer, max_model_len=m.max_model_len,
        seed=m.seed, dtype=m.dtype, tensor_parallel_size=m.tensor_parallel_size,
        gpu_memory_utilization=m.gpu_memory_utilization, enforce_eager=m.enforce_eager,
        cpu_kvcache_gb=m.cpu_kvcache_gb, cpu_threads=m.cpu_threads, engine_args=json.dumps(m.engine_args, sort_keys=True),
        base_url=m.base_url, api_key_env=m.api_key_env, concurrency=m.concurrency,
        timeout_s=m.timeout_s, max_retries=m.max_retries, backoff_s=m.backoff_s,
    )


def sampling(section, seed: int) -> Sampling:
    return Sampling(
        temperature=section.temperature, top_p=section.top_p, max_tokens=section.max_tokens,
        seed=seed, repetition_penalty=section.repetition_penalty,
    )


def check_model(spec: EngineSpec) -> None:
    """Fail before Spark work when a local model or tokenizer folder is missing."""
    for key, name, path in (
        ("llm.model", spec.model if spec.kind == "vllm" else "", spec.model_path if spec.kind == "vllm" else ""),
        ("llm.tokenizer", spec.tokenizer or spec.model, spec.tokenizer_path),
    ):
        if name.startswith(OFFLINE) and not is_prepared(Path(path)):
            raise LlmStageError(f"{key}: the offline model {name!r} is not prepared in {path} (run `webinstruct models prepare`)")
        if path and path.startswith(("/", ".")) and not Path(path).exists():
            raise LlmStageError(f"{key}: no model folder {path}")
    if spec.kind == "openai" and spec.api_key_env and spec.api_key_env not in os.environ:
        raise LlmStageError(
            f"llm.api_key_env: environment variable {spec.api_key_env} is not set; set it on the driver and "
            f"the executors (spark.executorEnv.{spec.api_key_env}, or the cluster's secret scope)"
        )


def check_session(spark, cfg: Config) -> None:
    """What a Spark Connect session cannot run, said before any work starts."""
    if is_connect(spark) and cfg.llm.engine == "vllm" and cfg.llm.gpu:
        raise LlmStageError(
            "llm.gpu = true runs in-process vLLM under a Spark ResourceProfile (stage-level scheduling), which "
            "Spark Connect sessions (Databricks serverless and shared clusters) do not offer; use "
            'llm.engine = "openai" with a served model (llm.base_url, llm.tokenizer), or run the LLM stages '
            "from a classic session (spark-submit, a job cluster)"
        )


def gpu_layout_problem(cfg: Config, conf: dict) -> str | None:
    """In-process engines on executors with more GPUs than one task takes: Spark hands a
    reused Python worker a task with other GPUs than its engine started on (CUDA cannot
    move), so two engines would share a GPU. None when the layout is safe."""
    if not cfg.llm.gpu or cfg.llm.engine != "vllm":
        return None
    try:
        per_executor = float(conf.get("spark.executor.resource.gpu.amount", "0") or 0)
    except ValueError:
        return None
    reuse = str(conf.get("spark.python.worker.reuse", "true")).lower() != "false"
    if per_executor > cfg.llm.gpus_per_task and reuse:
        return (f"spark.executor.resource.gpu.amount = {per_executor:g} but an LLM task takes llm.gpus_per_task = "
                f"{cfg.llm.gpus_per_task}: Spark reuses Python workers, and a worker's engine stays on the GPU it started "
                f"on, so a later task given another GPU would share one with a running engine. Set "
                f"spark.executor.resource.gpu.amount = {cfg.llm.gpus_per_task} (one LLM task per executor), or "
                "spark.python.worker.reuse = false (an engine start per task)")
    return None


def preflight(spark, cfg: Config, spec: EngineSpec) -> None:
    """Everything an LLM stage checks before it reads or writes anything."""
    check_session(spark, cfg)
    if not is_connect(spark):
        problem = gpu_layout_problem(cfg, dict(spark.sparkContext.getConf().getAll()))
        if problem:
            raise LlmStageError(problem)
    check_model(spec)


def resource_profile(cfg: Config):
    """One task = one engine on `gpus_per_task` GPUs (stage-level scheduling), or None for
    the cluster's default profile. Needs a cluster manager with dynamic allocation (YARN,
    Kubernetes, standalone) or Databricks; local mode ignores profiles."""
    if not cfg.llm.gpu:
        return None

    task = TaskResourceRequests().cpus(cfg.llm.cpus_per_task).resource("gpu", cfg.llm.gpus_per_task)
    return ResourceProfileBuilder().require(task).build


def map_options(cfg: Config) -> dict:
    profile = resource_profile(cfg)
    return {"profile": profile} if profile is not None else {}


def partitions(spark, cfg: Config) -> int:
    if cfg.llm.partitions:
        return cfg.llm.partitions
    return max(1, parallelism(spark) // (cfg.llm.cpus_per_task if cfg.llm.gpu else 1))


def tally(spark):
    """Requests and output tokens the engine tasks report back (Spark accumulators, summed
    as tasks finish), for the progress line; None on Spark Connect, which has none."""
    if is_connect(spark):
        return None
    return spark.sparkContext.accumulator(0), spark.sparkContext.accumulator(0)


def run_slices(spark, cfg: Config, lake, *, stage: str, table: str, todo, per_commit: int, map_fn,
               out_schema, finish, run_id: str, scratch: str, counts=None) -> dict:
    """Generate and commit `todo` slice by slice; returns counters of what was done.

    `map_fn` is the mapInPandas function, `finish(df)` adds the driver-side columns,
    `counts` the (requests, tokens) accumulators `map_fn` adds to, if any."""

    counters = {"slices": 0, "rows_written": 0, "ms_slices": 0}  # ms_slices: generation + commits
    total = todo.count()
    counters["records_in"] = total
    if total == 0:
        return counters
    n_slices = math.ceil(total / per_commit)
    # staged once, one folder per slice: each commit reads only its own slice
    todo.withColumn("llm_slice", F.pmod(F.xxhash64(todo.columns[0]), F.lit(n_slices))).write.mode(
        "overwrite"
    ).partitionBy("llm_slice").parquet(f"{scratch}/slices")
    gen_schema = [f for f in out_schema.fields if f.name not in ("run_id",) and not f.name.endswith("_at")]

    map_schema = StructType(gen_schema)
    n_parts = partitions(spark, cfg)
    opts = map_options(cfg)
    done = 0
    progress = CONSOLE.current
    if progress is not None:
        progress.slices(stage, total, n_slices)
    seen = (0, 0)
    for s in range(n_slices):
        folder = f"{scratch}/slices/llm_slice={s}"
        try:
            part = spark.read.parquet(folder)
        except AnalysisException:  # no document hashed to this slice: no folder
            continue
        size = part.count()
        started = time.monotonic()
        # sorted inside each task: the same input gives the same engine batches, so greedy
        # decoding gives the same replies on a rerun elsewhere
        key = part.columns[0]
        out = part.repartition(min(n_parts, size), key).sortWithinPartitions(key).mapInPandas(map_fn, map_schema, **opts)
        out = finish(out.withColumn("run_id", F.lit(run_id)))
        commit = lake.append(table, out.select(*out_schema.fieldNames()), txn=(f"webinstruct.{stage}.{run_id}", s))
        counters["ms_slices"] += int((time.monotonic() - started) * 1000)
        counters["slices"] += 1
        counters["rows_written"] += commit.rows
        done += size
        log.info("%s: slice %d/%d committed (%d/%d records, %d rows)", stage, s + 1, n_slices, done, total, commit.rows)
        if progress is not None:
            now = (counts[0].value, counts[1].value) if counts is not None else (0, 0)
            progress.slice_done(stage, s + 1, done, total, commit.rows, now[0] - seen[0], now[1] - seen[1])
            seen = now
    return counters


def check_task(spec: EngineSpec, make_task) -> None:
    """Build the task once on the driver: a context too small for the prompt fails here,
    before any Spark work, instead of in every task."""
    try:
        make_task(load_tokenizer(spec.tokenizer_path))
    except ValueError as exc:
        raise LlmStageError(str(exc)) from None


def generate_slices(spark, cfg: Config, lake, *, stage: str, table: str, todo, per_commit: int, spec: EngineSpec,
                    sampling: Sampling, make_task, out_schema, stamp: str, run_id: str, scratch_parts: tuple) -> dict:
    """run_slices with the engine map over `make_task`, the `stamp` time column set on the
    driver, and the scratch folder removed whatever happens."""

    columns = [f.name for f in out_schema.fields if f.name not in ("run_id", stamp)]

    now = dt.datetime.now(dt.timezone.utc)
    scratch = lake.scratch(*scratch_parts)
    counts = tally(spark)
    try:
        return run_slices(
            spark, cfg, lake, stage=stage, table=table, todo=todo, per_commit=per_commit,
            map_fn=llm_map(spec, sampling, cfg.llm.batch_tokens, make_task, columns, counts), out_schema=out_schema,
            finish=lambda df: df.withColumn(stamp, F.lit(now).cast("timestamp")), run_id=run_id, scratch=scratch,
            counts=counts,
        )
    finally:
        lake.remove_tree(scratch)


def status_counters(lake, table: str, run_id: str) -> dict:
    """Rows by status and the tokens of this run's generations (counted once per request)."""
    if not lake.exists(table):
        return {}
    rows = lake.read(table).where(F.col("run_id") == run_id)
    out = {f"status_{r['status']}": int(r["n"]) for r in rows.groupBy("status").agg(F.count("*").alias("n")).collect()}
    sent = rows.where(F.col("finish_reason") != "")  # rows of requests never sent (too long) have none
    gens = sent.groupBy("generation_id").agg(F.max("prompt_tokens").alias("p"), F.max("completion_tokens").alias("c"))
    agg = gens.agg(F.count("*").alias("g"), F.sum("p").alias("p"), F.sum("c").alias("c")).collect()[0]
    out.update({"generations": int(agg["g"] or 0), "tokens_in": int(agg["p"] or 0), "tokens_out": int(agg["c"] or 0)})
    if "reject_reason" in rows.columns:
        for r in rows.where("reject_reason IS NOT NULL").groupBy("reject_reason").count().collect():
            out[f"rejected_{r['reject_reason']}"] = int(r["count"])
    if "chunks_skipped" in rows.columns:
        per_doc = rows.groupBy("doc_id").agg(F.max("chunks_skipped").alias("s"))
        out["chunks_skipped"] = int(per_doc.agg(F.sum("s")).collect()[0][0] or 0)
    return out


def ensure_offline_model(cfg: Config, say=print) -> None:
    """The packaged offline model is converted once into the user cache on first use."""
    spec = engine_spec(cfg)
    if spec.kind == "vllm" and Path(spec.model_path) == default_model_dir() and not is_prepared(default_model_dir()):
        say("preparing the offline model (once) ...")
        say(f"offline model ready in {prepare()}")
