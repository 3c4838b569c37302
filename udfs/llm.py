"""mapInPandas functions for the LLM stages: records in, output rows out, one engine per worker.

The engine is created on the first batch a Python worker sees (never for an empty
partition) and cached in the process (lib.llm.get_engine), so with Spark's worker reuse the
model loads once per worker, not per task or batch. Records are grouped into engine calls
by a token budget so vLLM's continuous batching has enough work in flight.

Under stage-level scheduling (`llm.gpu`) each task is given GPU addresses; the engine is
started with exactly those visible (CUDA_VISIBLE_DEVICES), and the task says so on the
executor's stderr. An engine outlives its first task and CUDA cannot move once started, so
a reused Python worker keeps the device it started on. A later task given other GPUs would
run on GPUs another task owns: it fails instead, naming the fix (executors with as many
GPUs as one task takes, or spark.python.worker.reuse = false; the driver refuses the
first combination before any work, jobs/core/llm_stage.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable, Iterator

import pandas as pd
from pyspark import TaskContext

from webinstruct.lib.llm.offline import OFFLINE_MODEL, ensure_prepared
from webinstruct.lib.llm.spec import OFFLINE, EngineSpec
from webinstruct.lib.llm import get_engine
from webinstruct.lib.llm.tasks import run_batches
from webinstruct.lib.llm.tokenizer import load_tokenizer
from webinstruct.lib.llm.types import Sampling


class GpuPinned(RuntimeError):
    """This worker's engine holds other GPUs than Spark gave the task."""


_GPUS = {"engine": None, "ours": False}  # GPUs this process's engine started on; whether we set CUDA_VISIBLE_DEVICES


def use_task_gpus() -> list[str]:
    """The GPU addresses Spark gave this task, made the only visible devices (before the
    engine starts CUDA in this process); [] when the task has none."""
    context = TaskContext.get()
    gpu = context.resources().get("gpu") if context is not None else None
    if gpu is None or not gpu.addresses:
        return []
    addresses = list(gpu.addresses)
    wanted = ",".join(addresses)
    if _GPUS["engine"] is not None and _GPUS["engine"] != wanted:
        raise GpuPinned(
            f"this Python worker's LLM engine runs on GPU(s) {_GPUS['engine']} but Spark gave task "
            f"{context.stageId()}.{context.partitionId()} GPU(s) {wanted}: a reused worker cannot move its engine. Give "
            "each executor as many GPUs as one LLM task takes (spark.executor.resource.gpu.amount = llm.gpus_per_task), "
            "or set spark.python.worker.reuse = false")
    if _GPUS["ours"] or "CUDA_VISIBLE_DEVICES" not in os.environ:  # the cluster manager's own setting wins
        os.environ["CUDA_VISIBLE_DEVICES"] = wanted
        _GPUS["ours"] = True
    print(f"webinstruct.llm: task {context.stageId()}.{context.partitionId()} attempt {context.attemptNumber()} "
          f"got GPU(s) {','.join(addresses)}; engine on CUDA_VISIBLE_DEVICES={os.environ['CUDA_VISIBLE_DEVICES']}",
          file=sys.stderr, flush=True)
    return addresses


def prepare_offline(spec: EngineSpec) -> None:
    """The packaged offline model and tokenizer, converted on this executor when its home
    lacks them (on a cluster the driver's home is not the executors')."""
    needed = {spec.tokenizer_path} if (spec.tokenizer or spec.model).startswith(OFFLINE) else set()
    if spec.kind == "vllm" and spec.model.startswith(OFFLINE):
        needed.add(spec.model_path)
    for path in needed:
        if Path(path).name == OFFLINE_MODEL:
            ensure_prepared(path)


def llm_map(spec: EngineSpec, sampling: Sampling, batch_tokens: int, make_task: Callable, columns: list[str], counts=None):
    """`make_task(tokenizer)` builds the ExtractTask/RefineTask on the executor; `counts`,
    a pair of Spark accumulators, receives the requests sent and their output tokens."""

    def run(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        prepare_offline(spec)
        task = make_task(load_tokenizer(spec.tokenizer_path))
        gpus = use_task_gpus()

        def generate(requests):
            if not requests:
                return []
            if gpus and spec.kind == "vllm":
                _GPUS["engine"] = _GPUS["engine"] or ",".join(gpus)
            out = get_engine(spec).generate(requests, sampling)
            if counts is not None:
                counts[0].add(len(out))
                counts[1].add(sum(g.completion_tokens for g in out))
            return out

        works = (task.work(rec) for frame in frames for rec in frame.to_dict("records"))
        for rows in run_batches(works, generate, task.rows, batch_tokens):
            if rows:
                yield pd.DataFrame.from_records(rows, columns=columns)

    return run
