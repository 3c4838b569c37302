"""Python functions for semantic dedup: question embeddings (the MiniLM encoder, loaded once
per worker), each embedding's nearest stored centroid, and the groups inside a cluster."""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import pandas as pd

from webinstruct.lib.decontam.embed_index import EmbedError, encode
from webinstruct.lib.dedup.same_question import checkable_answer, facts_of
from webinstruct.lib.dedup.semantic import collapse, nearest


def embed_map(model: str, device: str, threads: int) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """(qa_id, refiner, question_hash, question) -> (qa_id, refiner, question_hash,
    embedding: unit float32)."""

    def fn(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            if batch.empty:
                continue
            try:
                vectors = encode([q if isinstance(q, str) else "" for q in batch["question"]], model, 64, device, threads)
            except EmbedError as exc:
                raise EmbedError(f"{exc}; semantic dedup needs the encoder (semdedup.enabled = false turns it off)") from None
            out = batch[["qa_id", "refiner", "question_hash"]].copy()
            out["embedding"] = [v.tolist() for v in vectors]
            yield out

    return fn


def assign_map(centroids: list[list[float]]) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """Rows with an `embedding`, `question` and `answer` -> the same rows with `cluster_id`
    (the nearest centroid), `facts` and `final` (what the collapse compares) in place of the
    texts, so only short strings travel to a cluster's group."""
    c = np.asarray(centroids, dtype=np.float32)

    def fn(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            if batch.empty:
                continue
            v = np.stack([np.asarray(e, dtype=np.float32) for e in batch["embedding"]])
            out = batch.drop(columns=["question", "answer"])
            out["facts"] = [facts_of(q if isinstance(q, str) else "") for q in batch["question"]]
            out["final"] = [checkable_answer(a if isinstance(a, str) else "") for a in batch["answer"]]
            out["cluster_id"] = nearest(v, c).astype("int32")
            yield out

    return fn


def collapse_group(threshold: float) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """applyInPandas over one cluster: (qa_id, refiner, embedding, published, quality, facts,
    final, cluster_id) -> (qa_id, refiner, cluster_id, keeper_qa_id, keeper_refiner, similarity)."""

    def fn(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.sort_values(["qa_id", "refiner"]).reset_index(drop=True)
        v = np.stack([np.asarray(e, dtype=np.float32) for e in frame["embedding"]])
        quality = [0.0 if q is None or pd.isna(q) else float(q) for q in frame["quality"]]
        rank = [(not bool(p), -q, a, r) for p, q, a, r in zip(frame["published"], quality, frame["qa_id"], frame["refiner"])]
        answers = [a if isinstance(a, str) and a else None for a in frame["final"]]
        done = collapse(v, rank, threshold, list(frame["facts"]), list(frame["qa_id"]), answers)  # one pair's rewrites stay apart
        return pd.DataFrame({
            "qa_id": frame["qa_id"], "refiner": frame["refiner"], "cluster_id": frame["cluster_id"].astype("int32"),
            "keeper_qa_id": [frame["qa_id"][k] for k in done.keeper], "keeper_refiner": [frame["refiner"][k] for k in done.keeper],
            "similarity": [round(s, 4) for s in done.similarity],
        })

    return fn
