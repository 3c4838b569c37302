"""mapInPandas functions for the LLM stages: records in, output rows out, one engine per worker.

The engine is created on the first batch a Python worker sees (never for an empty
partition) and cached in the process (lib.llm.get_engine), so with Spark's worker reuse the
model loads once per worker, not per task or batch. Records are grouped into engine calls
by a token budget so vLLM's continuous batching has enough work in flight.
"""

from __future__ import annotations

from typing import Callable, Iterator

import pandas as pd
from webinstruct.lib.llm.spec import EngineSpec
from webinstruct.lib.llm.types import Sampling


def llm_map(spec: EngineSpec, sampling: Sampling, batch_tokens: int, make_task: Callable, columns: list[str]):
    """`make_task(tokenizer)` builds the ExtractTask/RefineTask on the executor."""

    def run(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        from webinstruct.lib.llm import get_engine
        from webinstruct.lib.llm.tasks import run_batches
        from webinstruct.lib.llm.tokenizer import load_tokenizer

        task = make_task(load_tokenizer(spec.tokenizer_path))

        def generate(requests):
            if not requests:
                return []
            return get_engine(spec).generate(requests, sampling)

        works = (task.work(rec) for frame in frames for rec in frame.to_dict("records"))
        for rows in run_batches(works, generate, task.rows, batch_tokens):
            if rows:
                yield pd.DataFrame.from_records(rows, columns=columns)

    return run
