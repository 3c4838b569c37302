"""Decontamination in three tiers, then the published set.

  tier 1  word n-grams (n = 10) shared with a benchmark question: pages (the documents
          extraction reads, before extraction, as MAmmoTH2 did) and refined pairs
          (question, answer and the originals). A hit is contamination.
  tier 2  the top-k benchmark questions nearest each refined question by embedding
          cosine: at or above `flag_threshold` contamination, at or above
          `judge_threshold` a candidate for tier 3.
  tier 3  an LLM asked, in both orders, whether candidate and benchmark item are the same
          problem; a question equal to the item after normalisation skips the LLM.

Every finding goes to `contamination` with its evidence (the shared n-gram, or the
similarity and the item's question). `decontam_checked` records which unit each tier
checked under which key (the benchmark set's fingerprint and the tier's settings), so a
run checks only new units, and a changed benchmark set or setting checks everything again.
Judge replies, raw output kept, go to `decontam_judgements`. `publish` rebuilds the
`webinstruct` table: the refined pairs every enabled tier checked and none flagged, with
lineage to the WARC record; an unchanged result writes nothing.

    webinstruct decontam [run|pages|pairs|check]
"""

from __future__ import annotations

import logging

from webinstruct.jobs.core import scope
from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.errors import DecontamError
from webinstruct.jobs.core.lease import writes
from webinstruct.jobs.core.runs import RunRecorder
from webinstruct.jobs.core.views import refined_pairs
from webinstruct.jobs.stages.decontam.bench import Bench, register_configured
from webinstruct.jobs.stages.decontam.judge import tier3
from webinstruct.jobs.stages.decontam.publish import publish
from webinstruct.jobs.stages.decontam.tiers import page_units, tier1, tier2
from webinstruct.lib.decontam.embed_index import EmbedError

__all__ = ["run", "pages", "pairs", "publish", "summary_rows"]
log = logging.getLogger("webinstruct.decontam")


@writes("decontam")
def pages(spark, cfg: Config, lake) -> dict:
    """Tier 1 on the documents extraction will read (run before extract)."""
    if not cfg.decontam.pages:
        return {}
    register_configured(spark, cfg, lake)
    bench = Bench(spark, cfg, lake)
    recorder = RunRecorder(lake, "decontam_pages", cfg, args={"benchmarks": bench.fingerprint})
    out = tier1(spark, cfg, lake, bench, "page", page_units(lake, cfg), recorder.run_id)
    counters = {f"pages_{k}": v for k, v in out.items()}
    recorder.finish("ok", counters)
    return counters


@writes("decontam")
def pairs(spark, cfg: Config, lake) -> dict:
    """Tiers 1-3 on refined pairs, then publish."""
    d = cfg.decontam
    if not lake.exists("qa_refined"):
        raise DecontamError(f"no table 'qa_refined' in lake {lake.root} (run refine first)")
    register_configured(spark, cfg, lake)
    bench = Bench(spark, cfg, lake)
    recorder = RunRecorder(lake, "decontam_pairs", cfg, args={"benchmarks": bench.fingerprint})
    units = scope.current().materialize(refined_pairs(lake), "refined")  # read once, used by every tier and publish
    counters = {f"pairs_t1_{k}": v for k, v in tier1(spark, cfg, lake, bench, "pair", units, recorder.run_id).items()}
    if d.embed:
        try:
            counters.update({f"pairs_t2_{k}": v for k, v in tier2(spark, cfg, lake, bench, units, recorder.run_id).items()})
        except EmbedError as exc:
            raise DecontamError(str(exc)) from None
        counters.update({f"pairs_t3_{k}": v for k, v in tier3(spark, cfg, lake, bench, units, recorder.run_id).items()})
    counters.update(publish(spark, cfg, lake, bench, recorder.run_id, refined=units))
    recorder.finish("ok", counters)
    return counters


def run(spark, cfg: Config, lake) -> dict:
    counters = pages(spark, cfg, lake) if lake.exists("documents") else {}
    counters.update(pairs(spark, cfg, lake))
    return counters


def summary_rows(counters: dict, lake=None) -> list[tuple[str, object]]:
    g = counters.get
    rows = []
    if any(k.startswith("pages_") for k in counters):
        rows += [("pages checked, tier 1 (new)", g("pages_checked", 0)), ("pages flagged (dropped before extraction)", g("pages_units_with_hits", 0))]
    if any(k.startswith("pairs_") for k in counters):
        rows += [
            ("pairs checked, tier 1 (new)", g("pairs_t1_checked", 0)),
            ("pairs flagged, tier 1", g("pairs_t1_units_with_hits", 0)),
            ("pairs checked, tier 2 (new)", g("pairs_t2_checked", 0)),
            ("pairs with a neighbour >= judge_threshold", g("pairs_t2_units_with_hits", 0)),
            ("tier-3 candidates (undecided)", g("pairs_t3_candidates", 0)),
            ("  exact matches (no LLM)", g("pairs_t3_exact", 0)),
            ("  judged by the LLM (both orders)", g("pairs_t3_judged", 0)),
            ("  verdicts written", g("pairs_t3_decided", 0)),
        ]
    if "published" in counters:
        rows += [("pairs published (webinstruct)", g("published", 0)),
                 ("pairs waiting for the gate (webinstruct gate)", g("gate_pending", 0)),
                 ("pairs checked for personal data while publishing (not seen by webinstruct pii)", g("pii_checked_at_publish", 0))]
        if "semdedup_removed" in counters:
            rows += [(f"pairs left out as rewordings of a kept pair (cosine >= {g('semdedup_threshold')})", g("semdedup_removed", 0)),
                     ("  groups of rewordings", g("semdedup_groups", 0))]
        if "pii_dropped" in counters:
            rows += [("pairs left out for personal data (pii.mode = drop)", g("pii_dropped", 0))]
        rows += [("webinstruct rewritten", "yes" if g("published_changed") else "no (unchanged)")]
    return rows or [("nothing to do (decontam.pages = false)", 0)]
