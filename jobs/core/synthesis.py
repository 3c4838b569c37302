"""What the synthesize stage and the export share: the keys that say which solutions and
votes are current, and the questions synthesis works on.

A published pair's question_id is computed here in Spark (sha2 of its pair key); new
problems and file rows get theirs from lib.qa.synthesis when they are written.
"""

from __future__ import annotations

import hashlib
import json

from pyspark.sql import functions as F

from webinstruct.jobs.core import verdicts
from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.views import latest_attempt

SOLUTIONS = "solutions"
VOTES = "solution_votes"
QUESTIONS = "synth_questions"
SCREEN = "synth_screen"
QUESTION_COLUMNS = ["question_id", "question", "reference_text", "source", "qa_id", "refiner", "doc_id"]


def _key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def teacher(cfg: Config) -> str:
    return cfg.synthesize.model or cfg.llm.model


def synth_key(cfg: Config, prompt_version: str) -> str:
    """Teacher, prompt and sampling: solutions drawn under another key are not reused."""
    s = cfg.synthesize
    return _key("synth-1", teacher(cfg), prompt_version, s.temperature, s.top_p, s.max_tokens, s.repetition_penalty, s.seed,
                s.max_question_chars)


def vote_key(cfg: Config, skey: str) -> str:
    """The solutions' key, n, the keep rule and, when on, the LLM verifier."""
    s = cfg.synthesize
    verifier = verdicts.verifier_key(cfg)
    return _key("vote-1", skey, s.n, s.keep, s.min_votes, s.min_agreement, *([verifier] if verifier else []))


def screen_key(cfg: Config, fingerprint: str) -> str:
    """Pair dedup settings, the decontamination settings and the registered benchmarks."""
    g, d = cfg.gate, cfg.decontam
    return _key("screen-1", g.dedup_threshold, g.dedup_ngram, cfg.dedup.num_perm, cfg.dedup.seed, dataclass_dict(d), fingerprint)


def dataclass_dict(section) -> dict:
    return {k: v for k, v in vars(section).items() if not k.startswith("_")}


def web_question_id():
    """The pair and its question text: a rewritten question (a new refine prompt) is a new
    question, whose samples are drawn again."""
    return F.substring(F.sha2(F.concat_ws("\x1f", F.lit("question"), F.lit("web"), "qa_id", "refiner", "question"), 256), 1, 32)


def web_questions(lake):
    """The published pairs' questions; the extracted answer is the page's own, with its
    final answer."""
    if not lake.exists("webinstruct"):
        return None
    return lake.read("webinstruct").select(
        web_question_id().alias("question_id"), "question", F.col("orig_answer").alias("reference_text"), F.lit("web").alias("source"),
        "qa_id", "refiner", "doc_id")


def exportable(lake):
    """Question ids whose solutions may still be exported: published pairs as they stand,
    registered file rows, and new problems whose latest screen kept them and whose seed is
    still published. A pair that publish later drops (a new benchmark flags it) takes its
    solutions out of the next export."""
    web = web_questions(lake)
    ids = web.select("question_id") if web is not None else None
    if lake.exists(QUESTIONS):
        registered = latest_attempt(lake.read(QUESTIONS), ["question_id"]).where(F.col("status") == "ok")
        files = registered.where(F.col("seed_question_id").isNull()).select("question_id")
        ids = files if ids is None else ids.unionByName(files)
        if lake.exists(SCREEN) and web is not None:
            screens = lake.read(SCREEN)
            latest = screens.groupBy("question_id").agg(F.max("screened_at").alias("screened_at"))
            kept = screens.join(latest, ["question_id", "screened_at"]).where(F.col("verdict") == "kept").select("question_id")
            augmented = (registered.where(F.col("seed_question_id").isNotNull()).join(kept, "question_id", "left_semi")
                         .join(web.select(F.col("question_id").alias("seed_question_id")), "seed_question_id", "left_semi"))
            ids = ids.unionByName(augmented.select("question_id"))
    return ids


def questions(lake, cfg: Config, fingerprint: str | None):
    """Every question synthesis solves: published pairs, registered file rows, and new
    problems that passed the screen (under the current screen key, when known)."""
    parts = [q for q in [web_questions(lake)] if q is not None]
    if lake.exists(QUESTIONS):
        registered = latest_attempt(lake.read(QUESTIONS), ["question_id"]).where(F.col("status") == "ok")
        files = registered.where(F.col("seed_question_id").isNull())
        parts.append(files.select("question_id", "question", F.col("answer").alias("reference_text"), "source", "qa_id", "refiner", "doc_id"))
        if fingerprint is not None and lake.exists(SCREEN):
            kept = lake.read(SCREEN).where((F.col("screen_key") == screen_key(cfg, fingerprint)) & (F.col("verdict") == "kept"))
            augmented = registered.where(F.col("seed_question_id").isNotNull()).join(kept.select("question_id"), "question_id", "left_semi")
            parts.append(augmented.select("question_id", "question", F.lit(None).cast("string").alias("reference_text"), "source",
                                          "qa_id", "refiner", "doc_id"))
    if not parts:
        return None
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out.dropDuplicates(["question_id"])


def current_votes(lake, cfg: Config, prompt_version: str):
    """solution_votes under the current key, or None."""
    if not lake.exists(VOTES):
        return None
    return lake.read(VOTES).where(F.col("vote_key") == vote_key(cfg, synth_key(cfg, prompt_version)))


def kept_solutions(lake, cfg: Config, prompt_version: str):
    """One row per kept solution, in the OpenMathInstruct-2 shape plus ids; None without votes."""
    votes = current_votes(lake, cfg, prompt_version)
    if votes is None or not lake.exists(SOLUTIONS):
        return None
    skey = synth_key(cfg, prompt_version)
    sols = latest_attempt(lake.read(SOLUTIONS).where(F.col("synth_key") == skey), ["solution_id"])
    ids = exportable(lake)
    if ids is None:
        return None
    votes = votes.join(ids.distinct(), "question_id", "left_semi")
    kept = votes.select("question_id", "question", "expected_answer", "source", F.explode("kept_samples").alias("sample"))
    return kept.join(sols.select("question_id", "sample", "solution_id", F.col("raw_output").alias("generated_solution")),
                     ["question_id", "sample"]).select(
        F.col("question").alias("problem"), "generated_solution", "expected_answer", F.col("source").alias("problem_source"),
        "question_id", "sample", "solution_id")
