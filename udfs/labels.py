"""mapInPandas function for pair labels: one batch of refined pairs -> pair_labels rows.

The answer rules are plain Python (lib/qa/answer_types.py); the subject classifier encodes
each question with the MiniLM encoder, which loads once per Python worker, and its category
prototypes are built once per worker too.
"""

from __future__ import annotations

from typing import Callable, Iterator

import pandas as pd

from webinstruct.lib.decontam.embed_index import encode
from webinstruct.lib.qa.answer_types import label
from webinstruct.lib.qa.difficulty import pass_rate
from webinstruct.lib.qa.levels import level
from webinstruct.lib.qa.subjects import SubjectClassifier
from webinstruct.lib.qa.verify import judged_from

_CLASSIFIERS: dict[tuple[str, str, int], SubjectClassifier] = {}


def classifier(model: str, device: str = "cpu", threads: int = 0) -> SubjectClassifier:
    key = (model, device, threads)
    if key not in _CLASSIFIERS:
        _CLASSIFIERS[key] = SubjectClassifier(lambda texts: encode(texts, model, 64, device, threads))
    return _CLASSIFIERS[key]


def label_map(columns: list[str], subject_model: str = "", device: str = "cpu",
              threads: int = 0) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """`subject_model`: the encoder of the subject classifier; "" leaves `category` null."""

    def fn(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            labels = [label(q, a) for q, a in zip(batch["question"], batch["answer"])]
            out = batch[["qa_id", "refiner", "doc_id", "pair_hash", "label_key"]].copy()
            out["final_answer"] = [x.final for x in labels]
            out["answer_type"] = [x.answer_type for x in labels]
            out["verifiable"] = [x.verifiable for x in labels]
            out["answer_method"] = [x.method for x in labels]
            if subject_model:
                subjects = classifier(subject_model, device, threads).classify(list(batch["question"].fillna("")))
                out["category"] = [c for c, _ in subjects]
                out["category_score"] = [round(score, 4) for _, score in subjects]
            else:
                out["category"] = None
                out["category_score"] = None
            yield out[columns]

    return fn


def difficulty_map(columns: list[str], easy: float, medium: float,
                   timeout_s: int) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """solution_votes rows -> question_difficulty rows: each question's pass rate against its
    reference (the page's answer, else the majority) and its bin; with a `judged` column,
    the LLM verifier's verdicts also match a group to the page's answer."""

    def fn(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            rows = []
            for r in batch.astype(object).where(batch.notna(), None).to_dict("records"):
                groups = [(g["answer"], int(g["votes"])) for g in (r["groups"] if r["groups"] is not None else [])]
                judged = judged_from(r["question_id"], r.get("judged"))
                rate = pass_rate(groups, int(r["samples"] or 0), r["reference_answer"], r["majority_answer"], timeout_s,
                                 judged.same if judged else None)
                rows.append({**{k: r[k] for k in ("question_id", "vote_key", "synth_key", "difficulty_key", "source", "qa_id",
                                                  "refiner", "doc_id")},
                             "samples": rate.samples, "passes": rate.passes, "pass_rate": rate.rate, "reference": rate.reference,
                             "reference_kind": rate.reference_kind, "difficulty": level(rate.rate, easy, medium)})
            yield pd.DataFrame.from_records(rows, columns=columns)

    return fn
