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
            # column lists, not a dict per row: most units have no hit and cost one match each
            n = len(frame)
            none = [None] * n
            units = list(zip(frame["unit_id"].tolist(), frame["doc_id"].tolist(),
                             frame["qa_id"].tolist() if "qa_id" in frame else none,
                             frame["refiner"].tolist() if "refiner" in frame else none))
            texts = [frame[f].tolist() if f in frame else none for f in fields]
            out = {c: [] for c in HIT_COLUMNS}
            for i, unit in enumerate(units):
                found = False
                for f, column in zip(fields, texts):
                    for hit in index.match(column[i], limit):
                        _hit_row(out, unit, f, hit.benchmark, hit.item_id, hit.ngram)
                        found = True
                if not found:
                    _hit_row(out, unit, None, None, None, None)
            yield pd.DataFrame(out, columns=HIT_COLUMNS)

    return run


def _hit_row(out: dict, unit: tuple, field, benchmark, item_id, evidence) -> None:
    for c, v in zip(("unit_id", "doc_id", "qa_id", "refiner"), unit):
        out[c].append(v)
    out["field"].append(field)
    out["benchmark"].append(benchmark)
    out["item_id"].append(item_id)
    out["score"].append(None)
    out["evidence"].append(evidence)


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
