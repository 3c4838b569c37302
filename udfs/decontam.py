"""mapInPandas functions of the decontamination tiers. The benchmark side (the n-gram index,
the embedding matrix) is a Spark broadcast: shipped once per executor and cached by each
Python worker, not once per task. Each function yields one row per hit plus one row per
unit without a hit (benchmark null), so the job learns which units were checked from the
same single pass.
"""

from __future__ import annotations

from typing import Iterator

import pandas as pd

from webinstruct.lib.decontam.embed_index import encode, top_k
from webinstruct.lib.text_normalize import exact_hash, normalize

HIT_COLUMNS = ["unit_id", "doc_id", "qa_id", "refiner", "field", "benchmark", "item_id", "score", "evidence"]


def _value(payload):
    return payload.value if hasattr(payload, "value") else payload


def ngram_map(payload, fields: list[str], limit: int = 20):
    """payload: (broadcast of) lib.decontam.ngram_index.NgramIndex. Input columns: unit_id, doc_id,
    qa_id, refiner and the text `fields`."""

    def run(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        index = _value(payload)
        for frame in frames:
            rows = []
            for rec in frame.to_dict("records"):
                unit = {"unit_id": rec["unit_id"], "doc_id": rec["doc_id"], "qa_id": rec.get("qa_id"), "refiner": rec.get("refiner")}
                found = False
                for f in fields:
                    for hit in index.match(rec.get(f), limit):
                        rows.append({**unit, "field": f, "benchmark": hit.benchmark, "item_id": hit.item_id,
                                     "score": None, "evidence": hit.ngram})
                        found = True
                if not found:
                    rows.append({**unit, "field": None, "benchmark": None, "item_id": None, "score": None, "evidence": None})
            yield pd.DataFrame.from_records(rows, columns=HIT_COLUMNS)

    return run


def embed_map(payload, model: str, device: str, threads: int, batch: int, k: int, min_score: float):
    """payload: (broadcast of) (matrix, benchmark names, item ids, question heads). Input
    columns: unit_id, doc_id, qa_id, refiner, question. Rows for the top-k neighbours at or above
    `min_score`, best first."""

    def run(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        matrix, names, ids, heads = _value(payload)
        for frame in frames:
            if frame.empty:
                continue
            vectors = encode(frame["question"].fillna("").tolist(), model, batch, device, threads)
            near = top_k(vectors, matrix, k)
            rows = []
            for i, rec in enumerate(frame[["unit_id", "doc_id", "qa_id", "refiner"]].to_dict("records")):
                found = False
                for j, score in zip(near.index[i], near.score[i]):
                    if score < min_score:
                        break
                    rows.append({**rec, "field": "question", "benchmark": names[j], "item_id": ids[j],
                                 "score": float(score), "evidence": heads[j]})
                    found = True
                if not found:
                    rows.append({**rec, "field": None, "benchmark": None, "item_id": None, "score": None, "evidence": None})
            yield pd.DataFrame.from_records(rows, columns=HIT_COLUMNS)

    return run


def embed_items_map(model: str, device: str, threads: int, batch: int):
    """Benchmark questions -> (row, vector as float32 bytes), to build the stored matrix."""

    def run(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for frame in frames:
            if frame.empty:
                continue
            vectors = encode(frame["question"].fillna("").tolist(), model, batch, device, threads)
            yield pd.DataFrame({"row": frame["row"].to_numpy(), "vector": [v.tobytes() for v in vectors]})

    return run


def question_hash_map():
    """question -> exact_hash(normalize(question)), for the tier-3 exact-match shortcut."""

    def run(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for frame in frames:
            out = frame.copy()
            out["pair_hash"] = [exact_hash(normalize(q or "")) for q in frame["question"]]
            yield out

    return run
