"""Which contamination findings count now, shared by the decontam stage, the export's
dataset card and the printed summaries.

Every check is keyed by the benchmark set's fingerprint and the tier's settings
(`CheckKeys`); a row of `contamination` counts only under the current key of an enabled
tier, so a changed benchmark set or setting never mixes old findings with new ones.
"""

from __future__ import annotations

import hashlib

from pyspark.sql import functions as F

from webinstruct.jobs.core import benchmarks as registry
from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.errors import DecontamError
from webinstruct.lib.llm.prompts import PromptError, load_prompt

TABLE = "contamination"
CHECKED = "decontam_checked"
JUDGEMENTS = "decontam_judgements"
EVIDENCE_CHARS = 300
BENCHMARK_SUMMARY_COLUMNS = ["benchmark", "items", "pages t1", "pairs t1", "pairs t2 flagged", "t2 candidates",
                             "t3 same", "t3 different"]


def short_hash(*parts) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:16]


def judge_identity(cfg: Config) -> tuple[str, str]:
    """(model, prompt version) of the tier-3 judge."""
    try:
        prompt = load_prompt(cfg.decontam.judge_prompt)
    except PromptError as exc:
        raise DecontamError(f"decontam.judge_prompt: {exc}") from None
    return cfg.decontam.judge_model or cfg.llm.model, prompt.version


class CheckKeys:
    """The key of each (level, tier) check for one benchmark set and config."""

    def __init__(self, fingerprint: str, cfg: Config):
        d = cfg.decontam
        self.cfg = cfg
        self.fingerprint = fingerprint
        self.ngram_key = short_hash(fingerprint, "ngram", d.ngram, d.min_content)
        self.embed_key = short_hash(fingerprint, "embed", d.embed_model, d.top_k, d.flag_threshold, d.judge_threshold)

    def key(self, level: str, tier: int) -> str:
        if tier == 1:
            fields = ["text"] if level == "page" else sorted(self.cfg.decontam.pair_fields)
            return short_hash(self.ngram_key, level, *fields)
        if tier == 2:
            return self.embed_key
        return short_hash(self.embed_key, "judge", *judge_identity(self.cfg), self.cfg.decontam.judge_rule)


def current_contamination(lake, keys: CheckKeys | None, cfg: Config):
    """Contamination rows of the current keys and the enabled tiers (None: nothing yet)."""
    if keys is None or not lake.exists(TABLE):
        return None
    d = cfg.decontam
    rows = lake.read(TABLE)
    cond = (F.col("tier") == 1) & (F.col("check_key").isin(keys.key("page", 1), keys.key("pair", 1)))
    if d.embed:
        cond = cond | ((F.col("tier") == 2) & (F.col("check_key") == keys.key("pair", 2)))
        if d.judge:
            cond = cond | ((F.col("tier") == 3) & (F.col("check_key") == keys.key("pair", 3)))
    return rows.where(cond)


def benchmark_summary(lake, cfg: Config) -> list[list]:
    """Per benchmark: items, pages and pairs flagged by each tier (current keys)."""
    if not lake.exists(registry.TABLE):
        return []
    items = registry.load_items(lake)
    counts = items.groupby("benchmark").size().to_dict()
    found: dict = {}
    current = current_contamination(lake, CheckKeys(registry.fingerprint(items), cfg), cfg)
    if current is not None:
        unit = F.when(F.col("level") == "page", F.col("doc_id")).otherwise(F.concat_ws("|", "qa_id", "refiner"))
        rows = current.groupBy("benchmark", "level", "tier", "verdict").agg(F.countDistinct(unit).alias("n")).collect()
        for r in rows:
            found[(r["benchmark"], r["level"], r["tier"], r["verdict"])] = r["n"]
    out = []
    for name in sorted(counts):
        def g(level, tier, verdict, name=name):
            return found.get((name, level, tier, verdict), 0)

        out.append([name, counts[name], g("page", 1, "contaminated"), g("pair", 1, "contaminated"), g("pair", 2, "contaminated"),
                    g("pair", 2, "candidate"), g("pair", 3, "contaminated"), g("pair", 3, "clean")])
    return out
