"""`webinstruct decontam check`: the three tiers on any Q-A file (someone else's SFT set,
or ours after export), against the lake's registered benchmarks; one result per pair.

It runs in the driver process and writes no table: tier 1 with the same n-gram index (on
the question and the answer), tier 2 with the same benchmark embeddings (computed and
stored in the lake once if it has none yet for this model, as `decontam` does), tier 3
with the same judge task on an in-process engine. A candidate the judge cannot decide
counts as flagged under `decontam.unparsed = "drop"`, as in `publish`. A pair is reported
under the first tier that flags it; an unflagged pair still shows its nearest benchmark
item and cosine, so a reader sees how close it came.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.contamination import EVIDENCE_CHARS, judge_identity
from webinstruct.jobs.core.errors import DecontamError, LlmStageError
from webinstruct.jobs.core.llm_stage import check_model, engine_spec
from webinstruct.jobs.stages.decontam.bench import Bench, register_configured
from webinstruct.lib.decontam.benchmarks import BenchmarkError, read_qa
from webinstruct.lib.decontam.embed_index import EmbedError, encode, top_k
from webinstruct.lib.decontam.judge import SameProblemTask, combine
from webinstruct.lib.llm.prompts import load_prompt
from webinstruct.lib.llm.types import Sampling
from webinstruct.lib.text_normalize import exact_hash, normalize
from webinstruct.udfs.llm import llm_map

COLUMNS = ["line", "flagged", "tier", "method", "benchmark", "item_id", "score", "evidence"]


class CheckError(DecontamError):
    """The input cannot be read as asked; the message names the file and field."""


def read_pairs(path: str, question_field: str, answer_field: str) -> list[tuple[str, str]]:
    try:
        return read_qa(Path(path), question_field, answer_field)
    except (BenchmarkError, ValueError) as exc:
        raise CheckError(f"--input: {exc} (--question-field / --answer-field name the fields)") from None


def check_file(spark, cfg: Config, lake, path: str, question_field: str = "question", answer_field: str = "answer") -> list[dict]:
    return check_pairs(spark, cfg, lake, read_pairs(path, question_field, answer_field))


def screen(spark, cfg: Config, lake, pairs: list[tuple[str, str]]) -> tuple[str, list[dict]]:
    """The check as synthesis uses it on new problems: the configured benchmarks registered
    first (as `decontam` does); returns the benchmarks' fingerprint with the results (no
    pairs: the fingerprint alone, for the screen key)."""
    register_configured(spark, cfg, lake)
    bench = Bench(spark, cfg, lake)
    return bench.fingerprint, check_pairs(spark, cfg, lake, pairs, bench)


def check_pairs(spark, cfg: Config, lake, pairs: list[tuple[str, str]], bench: Bench | None = None) -> list[dict]:
    if not pairs:
        return []
    bench = bench or Bench(spark, cfg, lake)
    d = cfg.decontam
    out = [{"line": i + 1, "flagged": False, "tier": None, "method": None, "benchmark": None, "item_id": None,
            "score": None, "evidence": None} for i in range(len(pairs))]
    index = bench.ngram_index()
    for row, (q, a) in zip(out, pairs):
        for text in (q, a):
            hits = index.match(text, 1)
            if hits:
                row.update(flagged=True, tier=1, method="ngram", benchmark=hits[0].benchmark, item_id=hits[0].item_id, evidence=hits[0].ngram)
                break
    if not d.embed or not pairs:
        return out

    matrix = bench.matrix()
    try:
        near = top_k(encode([q for q, _ in pairs], d.embed_model, d.embed_batch, d.embed_device, 0), matrix, d.top_k)
    except EmbedError as exc:
        raise DecontamError(str(exc)) from None
    names, ids, questions = list(bench.items["benchmark"]), list(bench.items["item_id"]), list(bench.items["question"])
    candidates = []
    for i, row in enumerate(out):
        if row["flagged"]:
            continue
        j, score = int(near.index[i][0]), float(near.score[i][0])
        row.update(benchmark=names[j], item_id=ids[j], score=round(score, 4), evidence=questions[j][:EVIDENCE_CHARS])
        if score >= d.flag_threshold:
            row.update(flagged=True, tier=2, method="embedding")
            continue
        for j, score in zip(near.index[i], near.score[i]):
            if score >= d.judge_threshold:
                candidates.append((i, int(j), float(score)))
    if candidates and d.judge:
        for (i, j, score), verdict, method in _tier3(cfg, bench, pairs, candidates):
            bad = verdict == "contaminated" or (verdict == "unparsed" and d.unparsed == "drop")
            if bad and not out[i]["flagged"]:
                out[i].update(flagged=True, tier=3, method=method if verdict == "contaminated" else "judge (unparsed)", benchmark=names[j], item_id=ids[j], score=round(score, 4),
                              evidence=questions[j][:EVIDENCE_CHARS])
    return out


def _tier3(cfg: Config, bench, pairs, candidates):
    """(candidate, verdict, method) for each candidate: exact matches directly, the rest
    through the judge on an engine in this process."""
    d = cfg.decontam
    hashes = list(bench.items["question_hash"])
    asked, results = [], []
    for c in candidates:
        i, j, _ = c
        if exact_hash(normalize(pairs[i][0])) == hashes[j]:
            results.append((c, "contaminated", "exact"))
        else:
            asked.append(c)
    if not asked:
        return results
    model, _ = judge_identity(cfg)
    prompt = load_prompt(d.judge_prompt)
    spec = engine_spec(cfg, model)
    try:
        check_model(spec)  # the judge runs in this process, not in Spark
    except LlmStageError as exc:
        raise DecontamError(str(exc)) from None

    def make_task(tokenizer):
        return SameProblemTask(prompt, model, tokenizer, cfg.llm.max_model_len, d.judge_max_tokens, d.judge_max_chars)

    frame = pd.DataFrame([{"qa_id": str(n), "refiner": "", "benchmark": bench.items["benchmark"][j], "item_id": bench.items["item_id"][j],
                           "question": pairs[i][0], "bench_question": bench.items["question"][j]} for n, (i, j, _) in enumerate(asked)])
    samp = Sampling(temperature=0.0, top_p=1.0, max_tokens=d.judge_max_tokens, seed=cfg.llm.seed,
                    repetition_penalty=d.judge_repetition_penalty)
    answers: dict[int, list] = {n: [] for n in range(len(asked))}
    for rows in llm_map(spec, samp, cfg.llm.batch_tokens, make_task, ["qa_id", "status", "same"])(iter([frame])):
        for r in rows.to_dict("records"):
            answers[int(r["qa_id"])].append(bool(r["same"]) if r["status"] == "ok" else None)
    for n, c in enumerate(asked):
        results.append((c, combine(answers[n], d.judge_rule), "judge"))
    return results
