"""Python functions for the synthesis stage: one vote per question (answers grouped by
symbolic equivalence, which Spark SQL cannot do), and the sketches that find copies among
new problems."""

from __future__ import annotations

from typing import Callable, Iterator

import pandas as pd

from webinstruct.lib.dedup.minhash import LshParams, Sketcher
from webinstruct.lib.qa.answers import reference_answer
from webinstruct.lib.qa.gate import number_key
from webinstruct.lib.qa.parse import final_answer
from webinstruct.lib.qa.synthesis import KeepRule, decide
from webinstruct.lib.qa.verify import candidate_pairs, judged_from, pair_hash

VERIFY_COLUMNS = ["question_id", "question", "pair_hash", "answer_a", "answer_b"]


def _str(value) -> str | None:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def reference_of(source: str, text: str | None) -> str | None:
    """The question's own final answer: the page's extracted answer concludes with it (boxed,
    else the last number of its last line); a file's reference may be a whole solution."""
    if not text:
        return None
    return final_answer(text) if source == "web" else reference_answer(text)


def vote_group(rule: KeepRule, vote_key: str, columns: list[str], max_groups: int = 0) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """applyInPandas over one question's latest solutions -> its solution_votes row (and, when
    the frame has a `judged` column, the LLM verifier's share of the vote: llm_merges and
    reference_by)."""

    def run(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.astype(object).where(frame.notna(), None)
        first = frame.iloc[0]
        answers = [(int(s), _str(a) if st == "ok" else None) for s, st, a in zip(frame["sample"], frame["status"], frame["answer"])]
        reference = reference_of(first["source"] or "", _str(first["reference_text"]))
        judged = judged_from(first["question_id"], first["judged"]) if "judged" in frame.columns else None
        d = decide(answers, reference, rule, judged, max_groups)
        row = {
            "question_id": first["question_id"], "vote_key": vote_key, "synth_key": first["synth_key"], "source": first["source"],
            "qa_id": first["qa_id"], "refiner": first["refiner"], "doc_id": first["doc_id"], "question": first["question"],
            "samples": d.samples, "parsed": d.parsed, "groups": [{"answer": a, "votes": int(n)} for a, n in d.groups],
            "majority_answer": d.majority_answer, "votes": d.votes, "agreement": d.agreement, "majority_ok": d.majority_ok,
            "reference_answer": d.reference, "reference_agrees": d.reference_agrees, "keep_policy": rule.policy,
            "expected_answer": d.expected_answer, "kept_samples": [int(s) for s in d.kept],
            "llm_merges": d.llm_merges, "reference_by": d.reference_by,
        }
        return pd.DataFrame.from_records([row], columns=columns)

    return run


def verify_candidates(max_groups: int, timeout_s: int) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """applyInPandas over one question's latest solutions -> the answer pairs to ask the LLM
    verifier (question_id, question, pair_hash, answer_a, answer_b)."""

    def run(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.astype(object).where(frame.notna(), None)
        first = frame.iloc[0]
        ordered = sorted(zip(frame["sample"], frame["status"], frame["answer"]), key=lambda r: int(r[0]))
        answers = [_str(a) if st == "ok" else None for _, st, a in ordered]
        reference = reference_of(first["source"] or "", _str(first["reference_text"]))
        qid = first["question_id"]
        pairs = candidate_pairs(answers, reference, max_groups, timeout_s)
        return pd.DataFrame({"question_id": [qid] * len(pairs), "question": [first["question"]] * len(pairs),
                             "pair_hash": [pair_hash(qid, a, b) for a, b in pairs], "answer_a": [a for a, _ in pairs],
                             "answer_b": [b for _, b in pairs]}, columns=VERIFY_COLUMNS)

    return run


def sketch_map(lsh: LshParams) -> Callable:
    """(question_id, question) -> the question's LSH band keys, shingle set and numbers."""

    def run(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        sketcher = Sketcher(lsh, keep_sets=True, memo_bytes=16 << 20)
        for frame in frames:
            if frame.empty:
                continue
            texts = [q or "" for q in frame["question"]]
            sketches = sketcher.sketch(texts)
            yield pd.DataFrame({
                "question_id": frame["question_id"],
                "band_keys": [[int(k) for k in keys] for keys in sketches.band_keys],
                "shingle_set": sketches.shingle_sets,
                "number_key": [number_key(t) for t in texts],
            })

    return run
