"""mapInPandas function for pair labels: one batch of refined pairs -> pair_labels rows.

The rules are plain Python over each pair's texts (lib/qa/answer_types.py); nothing loads
per worker, so a batch costs the rules only.
"""

from __future__ import annotations

from typing import Callable, Iterator

import pandas as pd

from webinstruct.lib.qa.answer_types import label


def label_map(columns: list[str]) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    def fn(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            labels = [label(q, a) for q, a in zip(batch["question"], batch["answer"])]
            out = batch[["qa_id", "refiner", "doc_id", "pair_hash", "label_key"]].copy()
            out["final_answer"] = [x.final for x in labels]
            out["answer_type"] = [x.answer_type for x in labels]
            out["verifiable"] = [x.verifiable for x in labels]
            out["answer_method"] = [x.method for x in labels]
            yield out[columns]

    return fn
