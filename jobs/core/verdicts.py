"""The LLM verifier's verdicts as synthesize's votes and difficulty's pass rates read them
(`synthesize.verifier = llm`): which verifier is current, and per question the answer
pairs it has decided.

A pair counts once both orders have a final reply from the current verifier model and
prompt; equal when both said so, different when one said not, undecided (left out, so the
rules' answer stands) when an order did not parse.
"""

from __future__ import annotations

import hashlib
import json

from pyspark.sql import functions as F

from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.errors import ConfigError
from webinstruct.jobs.core.views import latest_attempt
from webinstruct.lib.llm.prompts import Prompt, PromptError, load_prompt
from webinstruct.lib.qa.verify import VERIFY_VERSION

TABLE = "answer_verdicts"
KEYS = ["question_id", "pair_hash"]


def enabled(cfg: Config) -> bool:
    return cfg.synthesize.verifier == "llm"


def model(cfg: Config) -> str:
    s = cfg.synthesize
    return s.verifier_model or s.model or cfg.llm.model


def prompt(cfg: Config) -> Prompt:
    try:
        return load_prompt(cfg.synthesize.verifier_prompt)
    except PromptError as exc:
        raise ConfigError(f"synthesize.verifier_prompt: {exc}") from None


def verifier_key(cfg: Config) -> str:
    """What a vote or a pass rate depends on when the verifier is on ("" when it is off)."""
    if not enabled(cfg):
        return ""
    s = cfg.synthesize
    parts = [VERIFY_VERSION, model(cfg), prompt(cfg).version, s.verifier_max_tokens, s.verifier_max_groups]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:12]


def replies(lake, cfg: Config):
    """The latest reply per pair and order from the current verifier; engine errors are
    not final while synthesize.retry_errors holds (they are asked again)."""
    rows = lake.read(TABLE).where((F.col("model") == model(cfg)) & (F.col("prompt_version") == prompt(cfg).version))
    rows = latest_attempt(rows, [*KEYS, "order"])
    return rows.where(F.col("status") != "engine_error") if cfg.synthesize.retry_errors else rows


def decided(lake, cfg: Config):
    """(question_id, pair_hash, equivalent or null) for pairs with a final reply in both orders."""
    ok = F.col("status") == "ok"
    per = replies(lake, cfg).groupBy(*KEYS).agg(
        F.countDistinct("order").alias("orders"),
        F.sum(F.when(ok & F.col("equivalent"), 1).otherwise(0)).alias("yes"),
        F.sum(F.when(ok & ~F.col("equivalent"), 1).otherwise(0)).alias("no"))
    return per.where(F.col("orders") == 2).select(
        *KEYS, F.when(F.col("no") > 0, False).when(F.col("yes") == 2, True).alias("equivalent"))


def judged(lake, cfg: Config):
    """(question_id, judged: array of (pair_hash, equivalent)) per question with a decided
    pair, or None when the verifier is off or has no table yet."""
    if not enabled(cfg) or not lake.exists(TABLE):
        return None
    rows = decided(lake, cfg).where(F.col("equivalent").isNotNull())
    return rows.groupBy("question_id").agg(F.collect_list(F.struct("pair_hash", "equivalent")).alias("judged"))


def summary(lake, cfg: Config) -> dict | None:
    """The current verifier's pairs by verdict and its replies that did not parse (for the
    report: what the LLM decided, apart from the rules), or None without any."""
    if not enabled(cfg) or not lake.exists(TABLE):
        return None
    out = {"equal": 0, "different": 0, "undecided": 0}
    for r in decided(lake, cfg).groupBy("equivalent").count().collect():
        out[{True: "equal", False: "different"}.get(r["equivalent"], "undecided")] = int(r["count"])
    out["parse_errors"] = replies(lake, cfg).where(F.col("status") == "parse_error").count()
    return out
