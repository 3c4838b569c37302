"""Recall: find the educational Q&A pages in the crawl, MAmmoTH2-style, in two rounds.

  round 1  train fastText on seed positives vs sampled documents -> score every document
           -> per-domain statistics -> an LLM judges the candidate domains
  round 2  train again: positives from documents of accepted domains, negatives from
           rejected domains and random documents -> score every document again

Tables: `models` (one row per trained model, with held-out metrics), `recall_scores`
(doc_id, round, score, model_id), `domains` (per domain and round: counts, candidate flag,
the latest verdict) and `domain_verdicts` (every judge reply, raw output kept). The view
`documents_recalled` is what dedup and extraction read.

Incremental: scoring does only documents without a score from the round's current model;
the judge only domains without a verdict from the current judge model and prompt; `run`
trains a round only when it has no model (or with `recall.retrain`), and `train` with the
same examples and settings finds the model it made before instead of adding another.

    webinstruct recall [run|train|score|domains|judge] [--round N]
"""

from __future__ import annotations

import logging

from pyspark.sql import functions as F

from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.errors import RecallError
from webinstruct.jobs.core.lake import Lake
from webinstruct.jobs.core.lease import writes
from webinstruct.jobs.core.views import documents_recalled, domain_verdicts
from webinstruct.jobs.stages.recall.domains import domains
from webinstruct.jobs.stages.recall.judge import judge
from webinstruct.jobs.stages.recall.rounds import current_model
from webinstruct.jobs.stages.recall.score import score
from webinstruct.jobs.stages.recall.train import train, training_frames

__all__ = ["run", "train", "training_frames", "score", "domains", "judge", "step", "summary_rows"]
log = logging.getLogger("webinstruct.recall")


@writes("recall")
def run(spark, cfg: Config, lake: Lake, expand=None) -> dict:
    """Both rounds, each step incremental. Returns counters keyed by round and step.

    `expand(spark, cfg, lake, round_no)`, when given (recall.expand_crawls), brings in the
    pages of the domains the round-1 judge accepted (select + fetch, wired by the pipeline:
    stages share tables, not code); they are scored, and round 2 trains on them."""
    out: dict = {}
    for round_no in range(1, cfg.recall.rounds + 1):
        model = current_model(lake, round_no)
        if model is None or cfg.recall.retrain:
            try:
                model = train(spark, cfg, lake, round_no)
            except RecallError as exc:
                if round_no == 1:
                    raise
                log.warning("recall round 2 skipped: %s", exc)
                out["round2_skipped"] = str(exc)
                break
            out[f"r{round_no}_trained"] = int(model["trained"])
        _merge(out, f"r{round_no}", score(spark, cfg, lake, round_no))
        _merge(out, f"r{round_no}", domains(spark, cfg, lake, round_no))
        if round_no == 1 and cfg.recall.judge:
            _merge(out, "judge", judge(spark, cfg, lake, 1))
            if expand is not None:
                _merge(out, "expand", expand(spark, cfg, lake, 1))
                _merge(out, "r1", score(spark, cfg, lake, 1))  # the new pages get round-1 scores too
    return out


def step(spark, cfg: Config, lake: Lake, name: str, round_no: int = 1, force: bool = False, expand=None) -> dict:
    """One step on its own (`webinstruct recall train|score|domains|judge`), with counters
    keyed as `run` keys them, so the same summary reads both."""
    if name == "run":
        return run(spark, cfg, lake, expand=expand)
    if name == "train":
        return {f"r{round_no}_trained": int(train(spark, cfg, lake, round_no, force=force)["trained"])}
    steps = {"score": score, "domains": domains, "judge": judge}
    prefix = "judge" if name == "judge" else f"r{round_no}"
    return {f"{prefix}_{k}": v for k, v in steps[name](spark, cfg, lake, round_no).items()}


def _merge(out: dict, prefix: str, counters: dict) -> None:
    for k, v in counters.items():
        out[f"{prefix}_{k}"] = v


def summary_rows(counters: dict, lake: Lake) -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = []
    for round_no in (1, 2):
        model = current_model(lake, round_no)
        if model is None:
            continue
        m = model["metrics"] or {}
        rows.append((f"round {round_no} model", f"{model['model_id']} ({model['train_positives']}+/{model['train_negatives']}- trained)"))
        if m.get("test_positives"):
            rows.append(("  held-out P / R / F1 / AUC", f"{m['precision']:.3f} / {m['recall']:.3f} / {m['f1']:.3f} / {m['auc']:.3f}"))
            rows.append(("  held-out accuracy (majority baseline)", f"{m['accuracy']:.3f} ({m['baseline_accuracy']:.3f})"))
        rows.append(("  documents scored (new)", counters.get(f"r{round_no}_scored", 0)))
        if not lake.exists("recall_scores"):
            continue
        total = lake.read("recall_scores").where(F.col("model_id") == model["model_id"])
        agg = total.agg(F.count("*").alias("n"), F.sum((F.col("score") >= lake.config.recall.threshold).cast("long")).alias("hit")).collect()[0]
        rows.append(("  recalled / scored (all)", f"{agg['hit'] or 0} / {agg['n']}"))
        if lake.exists("domains"):
            d = lake.read("domains").where(F.col("round") == round_no)
            a = d.agg(F.count("*").alias("n"), F.sum(F.col("candidate").cast("long")).alias("c")).collect()[0]
            rows.append((f"  domains / candidates (min_docs {counters.get(f'r{round_no}_min_docs', '-')})", f"{a['n']} / {a['c'] or 0}"))
    if counters.get("round2_skipped"):
        rows.append(("round 2 skipped", counters["round2_skipped"]))
    if "judge_judged" in counters:
        rows.append(("domains judged (new)", counters["judge_judged"]))
    if "expand_selected" in counters:
        rows.append(("domain expansion: records selected / documents brought in",
                     f"{counters['expand_selected']} / {counters.get('expand_documents_written', 0)}"))
    if lake.exists("domain_verdicts"):
        v = domain_verdicts(lake).groupBy("status", "educational").count().collect()
        rows.append(("domains accepted / rejected / unparsed (all)",
                     f"{sum(x['count'] for x in v if x['status'] == 'ok' and x['educational'])} / "
                     f"{sum(x['count'] for x in v if x['status'] == 'ok' and not x['educational'])} / "
                     f"{sum(x['count'] for x in v if x['status'] != 'ok')}"))
    if lake.exists("recall_scores"):
        rows.append((f"documents_recalled ({lake.config.recall.recalled})", documents_recalled(lake).count()))
    return rows
