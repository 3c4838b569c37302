"""mapInPandas functions for the LLM stages: records in, output rows out, one engine per worker.

The engine is created on the first batch a Python worker sees (never for an empty
partition) and cached in the process (lib.llm.get_engine), so with Spark's worker reuse the
model loads once per worker, not per task or batch. Records are grouped into engine calls
by a token budget so vLLM's continuous batching has enough work in flight.

Under stage-level scheduling (`llm.gpu`) each task is given GPU addresses; the engine is
started with exactly those visible (CUDA_VISIBLE_DEVICES), and the task says so on the
executor's stderr. An engine outlives its first task, so a worker keeps the device it
started on: give executors one GPU each (spark.executor.resource.gpu.amount = 1).
"""

from __future__ import annotations

import os
import sys
from typing import Callable, Iterator

import pandas as pd
from pyspark import TaskContext

from webinstruct.lib.llm.spec import EngineSpec
from webinstruct.lib.llm import get_engine
from webinstruct.lib.llm.tasks import run_batches
from webinstruct.lib.llm.tokenizer import load_tokenizer
from webinstruct.lib.llm.types import Sampling


def use_task_gpus() -> list[str]:
    """The GPU addresses Spark gave this task, made the only visible devices (before the
    engine starts CUDA in this process); [] when the task has none."""
    context = TaskContext.get()
    gpu = context.resources().get("gpu") if context is not None else None
    if gpu is None or not gpu.addresses:
        return []
    addresses = list(gpu.addresses)
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", ",".join(addresses))
    print(f"webinstruct.llm: task {context.stageId()}.{context.partitionId()} attempt {context.attemptNumber()} "
          f"got GPU(s) {','.join(addresses)}; engine on CUDA_VISIBLE_DEVICES={os.environ['CUDA_VISIBLE_DEVICES']}",
          file=sys.stderr, flush=True)
    return addresses


def llm_map(spec: EngineSpec, sampling: Sampling, batch_tokens: int, make_task: Callable, columns: list[str], counts=None):
    """`make_task(tokenizer)` builds the ExtractTask/RefineTask on the executor; `counts`,
    a pair of Spark accumulators, receives the requests sent and their output tokens."""

    def run(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        task = make_task(load_tokenizer(spec.tokenizer_path))
        use_task_gpus()

        def generate(requests):
            if not requests:
                return []
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
