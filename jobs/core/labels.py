"""The labels of the published pairs as they stand: answer type, subject and difficulty.

`pair_labels` and `question_difficulty` keep every key's rows (rules, encoder, bins,
teacher); export, the card and the report want the rows for the current settings and the
current texts. Both stages and their readers take the keys from here.
"""

from __future__ import annotations

import hashlib
import json

from pyspark.sql import functions as F

from webinstruct.jobs.core import verdicts
from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.synthesis import synth_key, vote_key
from webinstruct.jobs.core.synthesis import web_question_id
from webinstruct.lib.llm.prompts import PromptError, load_prompt
from webinstruct.jobs.core.views import pair_hash
from webinstruct.lib.qa.answer_types import ANSWER_TYPES, LABEL_VERSION
from webinstruct.lib.qa.difficulty import DIFFICULTY_VERSION
from webinstruct.lib.qa.levels import LEVELS
from webinstruct.lib.qa.subjects import CATEGORY_NAMES, SUBJECT_VERSION

LABEL_COLUMNS = ("final_answer", "answer_type", "verifiable", "category", "difficulty", "pass_rate")
HISTOGRAMS = {"answer_type": ANSWER_TYPES, "category": CATEGORY_NAMES, "difficulty": LEVELS}  # and their order


def label_key(cfg: Config) -> str:
    """What a pair_labels row was computed under: the answer rules, and with label.subject the
    category descriptions and the encoder. Changing one labels every pair again."""
    if not cfg.label.subject:
        return LABEL_VERSION
    return f"{LABEL_VERSION}+{SUBJECT_VERSION}:{cfg.decontam.embed_model}"


def difficulty_key(cfg: Config) -> str:
    """The rule, the bins and, when on, the LLM verifier (it decides which samples pass)."""
    bins = json.dumps([cfg.label.easy, cfg.label.medium, *([verdicts.verifier_key(cfg)] if verdicts.enabled(cfg) else [])])
    return f"{DIFFICULTY_VERSION}-{hashlib.blake2b(bins.encode(), digest_size=4).hexdigest()}"


def with_labels(lake, cfg: Config, pairs, vote_key: str | None):
    """`pairs` (rows of `webinstruct`: qa_id, refiner, question, answer) with LABEL_COLUMNS:
    the pair_labels row of its current texts under the current key, and the difficulty of
    its question for the current teacher (`vote_key`); null where there is none."""
    out = pairs.withColumn("_pair_hash", pair_hash())
    if lake.exists("pair_labels"):
        labels = (lake.read("pair_labels").where(F.col("label_key") == label_key(cfg))
                  .select("qa_id", "refiner", F.col("pair_hash").alias("_pair_hash"), "final_answer", "answer_type", "verifiable",
                          "category").dropDuplicates(["qa_id", "refiner", "_pair_hash"]))
        out = out.join(labels, ["qa_id", "refiner", "_pair_hash"], "left")
    else:
        out = (out.withColumn("final_answer", F.lit(None).cast("string")).withColumn("answer_type", F.lit(None).cast("string"))
               .withColumn("verifiable", F.lit(None).cast("boolean")).withColumn("category", F.lit(None).cast("string")))
    if vote_key is not None and lake.exists("question_difficulty"):
        levels = (lake.read("question_difficulty")
                  .where((F.col("difficulty_key") == difficulty_key(cfg)) & (F.col("vote_key") == vote_key))
                  .select(F.col("question_id").alias("_question_id"), "difficulty", "pass_rate").dropDuplicates(["_question_id"]))
        out = out.withColumn("_question_id", web_question_id()).join(levels, "_question_id", "left").drop("_question_id")
    else:
        out = out.withColumn("difficulty", F.lit(None).cast("string")).withColumn("pass_rate", F.lit(None).cast("double"))
    return out.drop("_pair_hash")


def current_vote_key(cfg: Config) -> str | None:
    """The vote key of the configured teacher and solve prompt; None when the prompt is missing."""
    try:
        return vote_key(cfg, synth_key(cfg, load_prompt(cfg.synthesize.prompt).version))
    except PromptError:
        return None


def label_histograms(labelled) -> dict:
    """Counts of each answer type, subject and difficulty level among `labelled` rows (null:
    "not labelled"), and how many are verifiable; one small aggregation each."""
    out = {}
    for column, order in HISTOGRAMS.items():
        counts = {r[column]: int(r["n"]) for r in labelled.groupBy(column).agg(F.count("*").alias("n")).collect()}
        out[column] = {k: counts[k] for k in (*order, None) if k in counts}
        if None in out[column]:
            out[column]["not labelled"] = out[column].pop(None)
    out["verifiable"] = labelled.where(F.coalesce(F.col("verifiable"), F.lit(False))).count()
    return out
