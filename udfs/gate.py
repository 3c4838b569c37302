"""mapInPandas function for the quality gate: one batch of refined pairs (with their page's
text, language, recall score and markup votes) -> qa_quality rows.

The encoder (question meaning) and the language identifier run once per batch; both load
once per Python worker. Pair-dedup sketches of the question are computed here too, so
publishing never re-reads page-sized text.
"""

from __future__ import annotations

import math
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from webinstruct.lib.dedup.minhash import LshParams, Sketcher, set_jaccard
from webinstruct.lib.decontam.embed_index import encode
from webinstruct.lib.ingest.langid import LanguageIdentifier
from webinstruct.lib.qa.gate import GateOptions, PairInput, check, number_key, page_words
from webinstruct.lib.text_normalize import exact_hash, normalize


def votes_signal(accepted, votes) -> float:
    """1 for an accepted answer; else upvotes on a log scale (10 votes = 1); 0 without markup."""
    if accepted is True:
        return 1.0
    if votes is None or (isinstance(votes, float) and math.isnan(votes)) or votes <= 0:
        return 0.0
    return min(1.0, math.log1p(float(votes)) / math.log1p(10.0))


def similarities(orig: list[str], new: list[str], model: str, device: str = "cpu", threads: int = 0) -> list[float]:
    """Cosine of each pair of questions; an unchanged question is 1 without encoding it
    (pairs kept as stated, and refiners that left the question alone)."""
    out = [1.0] * len(orig)
    todo = [i for i, (a, b) in enumerate(zip(orig, new)) if a != b]
    if todo:
        x = encode([orig[i] for i in todo], model, 64, device, threads)
        y = encode([new[i] for i in todo], model, 64, device, threads)
        for i, v in zip(todo, np.einsum("ij,ij->i", x, y)):
            out[i] = float(v)
    return out


def _value(v, default=None):
    return default if v is None or (isinstance(v, float) and math.isnan(v)) else v


def gate_map(options: GateOptions, embed_model: str, embed_device: str, embed_threads: int, lid_model: str,
             weights: tuple[float, float, float], lsh: LshParams, columns: list[str]) -> Callable:
    def run(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        langid = LanguageIdentifier(lid_model) if options.check_language and "plausible" in options.checks else None
        sketcher = Sketcher(lsh, keep_sets=True, memo_bytes=16 << 20)
        for frame in frames:
            if frame.empty:
                continue
            rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
            sims: list[float | None] = [None] * len(rows)
            if embed_model and "faithful" in options.checks:
                sims = similarities([r["orig_question"] or "" for r in rows], [r["question"] or "" for r in rows],
                                    embed_model, embed_device, embed_threads)
            sketches = sketcher.sketch([r["question"] or "" for r in rows])
            words: dict[str, frozenset] = {}  # a page's words, once per page in the batch
            out = []
            for i, r in enumerate(rows):
                if r["doc_id"] not in words:
                    words[r["doc_id"]] = frozenset(page_words(r["page_text"] or ""))
                lang, lang_score = langid.predict(f"{r['question'] or ''} {r['answer'] or ''}") if langid else ("", 0.0)
                result = check(PairInput(
                    orig_question=r["orig_question"] or "", orig_answer=r["orig_answer"] or "",
                    question=r["question"] or "", answer=r["answer"] or "", page_text=r["page_text"] or "",
                    page_words=words[r["doc_id"]] if r["page_text"] else None,
                    page_lang=r["page_lang"] or "", pair_lang=lang, pair_lang_score=lang_score, similarity=sims[i],
                    method=r["method"] or "llm",
                ), options)
                recall = float(_value(r["recall_score"], 0.0))
                votes = votes_signal(_value(r["accepted"]), _value(r["votes"]))
                quality = weights[0] * result.score + weights[1] * recall + weights[2] * votes
                out.append({
                    "qa_id": r["qa_id"], "refiner": r["refiner"], "doc_id": r["doc_id"], "method": r["method"] or "llm",
                    "pair_hash": r["pair_hash"], "gate_key": r["gate_key"], "passed": result.passed,
                    "reasons": result.reasons, "score": result.score, "similarity": sims[i], "grounded": result.grounded,
                    "numbers_kept": result.numbers_kept, "pair_lang": lang, "quality": round(quality, 4),
                    "exact_key": exact_hash(normalize(f"{r['question'] or ''}\n{r['answer'] or ''}")),
                    "band_keys": [int(k) for k in sketches.band_keys[i]], "shingle_set": sketches.shingle_sets[i],
                    "number_key": number_key(r["question"] or ""),
                })
            yield pd.DataFrame.from_records(out, columns=columns)

    return run


def jaccard_map() -> Callable:
    """(a, b, set_a, set_b) -> (a, b, jaccard) of two questions' shingle sets."""
    def run(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for frame in frames:
            scores = [set_jaccard(x, y) for x, y in zip(frame["set_a"], frame["set_b"])]
            yield pd.DataFrame({"a": frame["a"], "b": frame["b"], "jaccard": scores})

    return run
