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

    spark-submit jobs/recall.py [run|train|score|domains|judge] [--round N] [--config F] ...
"""

from __future__ import annotations

if __package__ in (None, ""):  # run as a script by spark-submit: make the repo importable
    import pathlib
    import sys

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import datetime as dt
import hashlib
import json
import logging
import math
import tempfile
from pathlib import Path

from jobs.config import Config
from jobs.lake import Lake
from jobs.runs import RunRecorder
from jobs.tables import DOMAIN_VERDICTS, DOMAINS, MODELS, RECALL_SCORES
from lib.recall_model import FastTextParams

log = logging.getLogger("webinstruct.recall")
KIND = "recall"
NO_DOMAIN = "(none)"  # documents without a registered domain: counted, never a candidate


class RecallError(RuntimeError):
    """A recall step cannot run; the message says what to do. Nothing was written."""


def params_of(cfg: Config) -> FastTextParams:
    r = cfg.recall
    return FastTextParams(dim=r.dim, epoch=r.epoch, lr=r.lr, word_ngrams=r.word_ngrams, bucket=r.bucket,
                          min_count=r.min_count, threads=r.threads, seed=r.seed)


def _documents(lake: Lake, cfg: Config):
    from jobs.views import MissingInput, read_source

    try:
        return read_source(lake, "recall.input", cfg.recall.input)
    except MissingInput as exc:
        raise RecallError(str(exc)) from None


def _seeds(spark, lake, cfg: Config, key: str, documents):
    from jobs.recall_seeds import SeedError, read_sources
    from lib.seed_spec import parse_sources

    try:
        return read_sources(spark, lake, parse_sources(getattr(cfg.recall, key), f"recall.{key}"), f"recall.{key}", documents)
    except SeedError as exc:
        raise RecallError(str(exc)) from None


def current_model(lake: Lake, round_no: int) -> dict | None:
    if not lake.exists("models"):
        return None
    from jobs.views import current_models

    rows = current_models(lake).where(f"round = {int(round_no)}").collect()
    return rows[0].asDict() if rows else None


def accepted_and_rejected(lake: Lake):
    """Domains whose latest verdict is ok: (accepted, rejected) single-column frames."""
    from pyspark.sql import functions as F

    from jobs.views import domain_verdicts

    if not lake.exists("domain_verdicts"):
        return None, None
    ok = domain_verdicts(lake).where("status = 'ok'")
    return ok.where(F.col("educational")).select("domain"), ok.where(~F.col("educational")).select("domain")


# --- training ------------------------------------------------------------------------

def training_frames(spark, cfg: Config, lake: Lake, round_no: int):
    """(positives, negatives) as (key, text, url, source) frames for a round."""
    from pyspark.sql import functions as F

    from jobs.recall_seeds import documents_as_examples, hash_sample

    from lib.recall_text import CHARS_PER_WORD

    r = cfg.recall
    head = r.max_words * CHARS_PER_WORD  # prepare() reads no further: samples carry only the head

    def clip(df):
        return None if df is None else df.withColumn("text", F.substring("text", 1, head))

    docs = _documents(lake, cfg).withColumn("text", F.substring("text", 1, head))
    seeds = clip(_seeds(spark, lake, cfg, "positives", docs))
    extra_negatives = clip(_seeds(spark, lake, cfg, "negatives", docs))
    if round_no == 1:
        if seeds is None:
            raise RecallError("recall.positives is empty: give seed sources, e.g. [{path = \"seeds.jsonl\", text = [\"Q\", \"A\"]}]")
        positives = seeds
        pool = docs
    else:
        accepted, rejected = accepted_and_rejected(lake)
        if accepted is None or accepted.limit(1).count() == 0:
            raise RecallError("round 2 needs at least one domain judged educational (run `webinstruct recall judge` first)")
        from_domains = documents_as_examples(docs.join(accepted, "domain", "left_semi"), "accepted domains")
        positives = hash_sample(from_domains, r.round2_positives, r.sample_seed)
        if r.round2_keep_seeds and seeds is not None:
            positives = positives.unionByName(seeds)
        rejected_docs = documents_as_examples(docs.join(rejected, "domain", "left_semi"), "rejected domains")
        extra_negatives = rejected_docs if extra_negatives is None else extra_negatives.unionByName(rejected_docs)
        pool = docs.join(accepted, "domain", "left_anti").join(rejected, "domain", "left_anti")  # rejected ones come next
    # negatives are never a positive page (by doc_id or URL), even one the cap below leaves out
    pos_keys = positives.select("key")
    pos_urls = positives.where(F.col("url").isNotNull()).select("url")
    positives = hash_sample(positives, r.max_positives, r.sample_seed)
    pool = pool.join(pos_keys.withColumnRenamed("key", "doc_id"), "doc_id", "left_anti").join(pos_urls, "url", "left_anti")
    n_random = r.negatives_from_documents if round_no == 1 else r.round2_negatives
    negatives = hash_sample(documents_as_examples(pool, "documents sample"), n_random, r.sample_seed)
    if extra_negatives is not None:
        extra = extra_negatives.join(pos_keys, "key", "left_anti").join(pos_urls, "url", "left_anti")  # positive wins
        if round_no == 2:
            extra = hash_sample(extra, r.round2_negatives, r.sample_seed)
        negatives = negatives.unionByName(extra)
    return positives, negatives


def _collect(df, max_words: int) -> list[tuple[str, str, str]]:
    from lib.recall_text import prepare

    out, seen = [], set()
    for row in df.select("key", "text", "source").toLocalIterator():
        if row["key"] in seen:
            continue
        seen.add(row["key"])
        text = prepare(row["text"], max_words)
        if text:
            out.append((row["key"], text, row["source"]))
    return sorted(out)


def training_key(positives, negatives, params: FastTextParams, cfg: Config) -> str:
    h = hashlib.sha256(json.dumps({**params.as_dict(), "max_words": cfg.recall.max_words,
                                   "test_fraction": cfg.recall.test_fraction, "seed": cfg.recall.sample_seed}, sort_keys=True).encode())
    for label, rows in (("+", positives), ("-", negatives)):
        for key, text, _ in rows:
            h.update(f"{label}\x1f{key}\x1f{text}\n".encode())
    return h.hexdigest()[:32]


def train(spark, cfg: Config, lake: Lake, round_no: int = 1, force: bool = False) -> dict:
    """Train the round's classifier; returns its models row plus `trained` (False when the
    same examples and settings already made a model, which is then reused)."""
    from collections import Counter

    from lib.recall_model import Scorer, evaluate, file_hash, holdout
    from lib.recall_model import train as train_fasttext

    r = cfg.recall
    params = params_of(cfg)
    pos_df, neg_df = training_frames(spark, cfg, lake, round_no)
    positives, negatives = _collect(pos_df, r.max_words), _collect(neg_df, r.max_words)
    pos_keys = {k for k, _, _ in positives}
    negatives = [n for n in negatives if n[0] not in pos_keys]  # a page both ways counts as positive
    if not positives or not negatives:
        raise RecallError(f"round {round_no}: {len(positives)} positives and {len(negatives)} negatives; both classes are needed")
    key = training_key(positives, negatives, params, cfg)
    if lake.exists("models") and not force:
        from pyspark.sql import functions as F

        same = lake.read("models").where((F.col("training_key") == key) & (F.col("round") == round_no))
        same = same.orderBy(F.col("created_at").desc()).limit(1).collect()
        if same:
            row = same[0].asDict()
            current = current_model(lake, round_no)
            if current is None or current["model_id"] != row["model_id"]:  # back to an earlier model: make it current
                row.update(created_at=dt.datetime.now(dt.timezone.utc))
                lake.append("models", spark.createDataFrame([row], MODELS))
            return {**row, "trained": False}
    recorder = RunRecorder(lake, f"recall.train.{round_no}", cfg, args={"round": round_no})

    def split(rows):
        test = [x for x in rows if holdout(x[0], r.test_fraction, r.sample_seed)]
        return [x for x in rows if not holdout(x[0], r.test_fraction, r.sample_seed)], test

    pos_train, pos_test = split(positives)
    neg_train, neg_test = split(negatives)
    with tempfile.TemporaryDirectory(prefix="webinstruct-recall-") as tmp:
        try:
            path = train_fasttext([t for _, t, _ in pos_train], [t for _, t, _ in neg_train], params, Path(tmp), r.seed)
        except RuntimeError as exc:  # fastText: "Encountered NaN" when these settings diverge
            raise RecallError(
                f"round {round_no}: fastText training failed ({exc}); try a lower recall.lr (now {r.lr}) "
                f"or a larger recall.bucket (now {r.bucket})"
            ) from None
        scorer = Scorer(str(path))
        test = pos_test + neg_test
        scores = scorer.scores([t for _, t, _ in test])
        metrics = evaluate([1] * len(pos_test) + [0] * len(neg_test), scores, r.threshold)
        digest = file_hash(path)
        uri = lake.put_file(str(path), f"_models/{KIND}/{digest}.bin")
        size = path.stat().st_size
    sources = {"positives": dict(Counter(s for _, _, s in positives)), "negatives": dict(Counter(s for _, _, s in negatives))}
    row = {
        "model_id": digest[:16], "kind": KIND, "round": round_no, "path": uri, "file_bytes": size, "training_key": key,
        "train_positives": len(pos_train), "train_negatives": len(neg_train),
        "test_positives": len(pos_test), "test_negatives": len(neg_test),
        "params": json.dumps({**params.as_dict(), "max_words": r.max_words, "text": "lib.recall_text.prepare"}, sort_keys=True),
        "sources": json.dumps(sources, sort_keys=True),
        "metrics": {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))},
        "run_id": recorder.run_id, "created_at": dt.datetime.now(dt.timezone.utc),
    }
    lake.append("models", spark.createDataFrame([row], MODELS))
    recorder.finish("ok", {"train_positives": len(pos_train), "train_negatives": len(neg_train),
                           "test_positives": len(pos_test), "test_negatives": len(neg_test)})
    return {**row, "trained": True}


# --- scoring -------------------------------------------------------------------------

def score(spark, cfg: Config, lake: Lake, round_no: int = 1) -> dict:
    """Score documents that have no score from the round's current model."""
    from pyspark.sql import functions as F

    from udfs.recall import score_udf, ship_model

    model = current_model(lake, round_no)
    if model is None:
        raise RecallError(f"no recall model for round {round_no} (run `webinstruct recall train --round {round_no}`)")
    docs = _documents(lake, cfg)
    todo = docs.select("doc_id", "text")
    if lake.exists("recall_scores"):
        done = lake.read("recall_scores").where(F.col("model_id") == model["model_id"]).select("doc_id")
        todo = todo.join(done, "doc_id", "left_anti")
    recorder = RunRecorder(lake, f"recall.score.{round_no}", cfg, args={"round": round_no, "model_id": model["model_id"]})
    udf = score_udf(ship_model(spark, model["path"]), model["path"], cfg.recall.max_words)
    now = dt.datetime.now(dt.timezone.utc)
    out = todo.select(
        "doc_id", F.lit(round_no).cast("int").alias("round"), udf("text").alias("score"),
        F.lit(model["model_id"]).alias("model_id"), F.lit(recorder.run_id).alias("run_id"),
        F.lit(now).cast("timestamp").alias("scored_at"),
    )
    commit = lake.append("recall_scores", out.select(*RECALL_SCORES.fieldNames()))
    counters = {"scored": _rows_of_run(lake, "recall_scores", recorder.run_id, commit)}
    if counters["scored"]:
        mine = lake.read("recall_scores").where(F.col("run_id") == recorder.run_id)
        counters["recalled"] = mine.where(F.col("score") >= cfg.recall.threshold).count()
    recorder.finish("ok", counters)
    return counters


def _rows_of_run(lake: Lake, table: str, run_id: str, commit) -> int:
    from pyspark.sql import functions as F

    if commit.rows or not lake.exists(table):  # delta-spark commits do not report rows
        return commit.rows
    return lake.read(table).where(F.col("run_id") == run_id).count()


# --- domains -------------------------------------------------------------------------

def domain_stats(scores, documents, threshold: float):
    """Per registered domain: documents scored, recalled (score >= threshold), recalled
    fraction and mean score. `scores`: doc_id, score; `documents`: doc_id, domain."""
    from pyspark.sql import functions as F

    joined = scores.join(documents.select("doc_id", "domain"), "doc_id")
    joined = joined.withColumn("domain", F.coalesce(F.col("domain"), F.lit(NO_DOMAIN)))
    return joined.groupBy("domain").agg(
        F.count("*").alias("documents"),
        F.sum((F.col("score") >= threshold).cast("long")).alias("recalled"),
        # rounded: a sum's last bit depends on the shuffle's merge order, and a rerun must
        # compare equal to the stored row
        F.round(F.avg("score"), 9).alias("mean_score"),
    ).withColumn("recalled_fraction", F.col("recalled") / F.col("documents"))


def min_docs_for(cfg: Config, scored: int) -> int:
    """recall.min_docs, or when 0 a floor that grows with the corpus (1000 at 1e9 scored)."""
    r = cfg.recall
    return r.min_docs or max(r.min_docs_floor, math.ceil(r.min_docs_share * scored))


def mark_candidates(stats, min_docs: int, min_fraction: float, max_candidates: int):
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    eligible = (F.col("recalled") >= min_docs) & (F.col("recalled_fraction") >= min_fraction) & (F.col("domain") != NO_DOMAIN)
    rank = F.row_number().over(Window.orderBy(eligible.desc(), F.col("recalled").desc(), F.col("domain")))
    return stats.withColumn("candidate", eligible & (rank <= max_candidates)).withColumn(
        "min_docs", F.lit(min_docs).cast("long")
    ).withColumn("min_fraction", F.lit(min_fraction))


def domains(spark, cfg: Config, lake: Lake, round_no: int = 1) -> dict:
    """Recompute the round's domain rows and write those that changed."""
    from pyspark.sql import functions as F

    from jobs.views import domain_verdicts

    model = current_model(lake, round_no)
    if model is None or not lake.exists("recall_scores"):
        raise RecallError(f"round {round_no} has no scores yet (run `webinstruct recall score --round {round_no}`)")
    scores = lake.read("recall_scores").where(F.col("model_id") == model["model_id"]).select("doc_id", "score")
    if scores.limit(1).count() == 0:
        raise RecallError(f"round {round_no}'s model {model['model_id']} has scored nothing yet (run `webinstruct recall score --round {round_no}`)")
    stats = domain_stats(scores, _documents(lake, cfg), cfg.recall.threshold).cache()
    scored = stats.agg(F.sum("documents")).collect()[0][0] or 0
    min_docs = min_docs_for(cfg, scored)
    rows = mark_candidates(stats, min_docs, cfg.recall.min_fraction, cfg.recall.max_candidates)
    rows = rows.withColumn("round", F.lit(round_no).cast("int")).withColumn("model_id", F.lit(model["model_id"]))
    verdict_cols = ["verdict", "reason", "judge_status", "judge_model", "prompt_version"]
    if lake.exists("domain_verdicts"):
        v = domain_verdicts(lake).select(
            "domain",
            F.when(F.col("status") != "ok", None).when(F.col("educational"), "educational").otherwise("not_educational").alias("verdict"),
            "reason", F.col("status").alias("judge_status"), F.col("model").alias("judge_model"), "prompt_version",
        )
        rows = rows.join(v, "domain", "left")
    else:
        for c in verdict_cols:
            rows = rows.withColumn(c, F.lit(None).cast("string"))
    recorder = RunRecorder(lake, f"recall.domains.{round_no}", cfg, args={"round": round_no})
    rows = rows.withColumn("run_id", F.lit(recorder.run_id)).select(*DOMAINS.fieldNames())
    compare = [c for c in DOMAINS.fieldNames() if c != "run_id"]
    changed = rows
    if lake.exists("domains"):
        current = lake.read("domains").where(F.col("round") == round_no).select(*compare).alias("cur")
        same = [F.col(f"new.{c}").eqNullSafe(F.col(f"cur.{c}")) for c in compare]
        changed = rows.alias("new").join(current, same, "left_anti")
    changed = changed.cache()
    n_changed = changed.count()
    if n_changed:
        lake.upsert("domains", changed, keys=["domain", "round"])
    mine = lake.read("domains").where(F.col("round") == round_no)
    agg = mine.agg(
        F.count("*").alias("domains"), F.sum(F.col("candidate").cast("long")).alias("candidates"),
    ).collect()[0]
    counters = {"domains": int(agg["domains"] or 0), "candidates": int(agg["candidates"] or 0),
                "domains_changed": n_changed, "min_docs": min_docs, "documents_in_domains": int(scored)}
    changed.unpersist()
    stats.unpersist()
    recorder.finish("ok", counters)
    return counters


# --- judge ---------------------------------------------------------------------------

def judge_spec(cfg: Config):
    from jobs.llm_stage import engine_spec

    return engine_spec(cfg, cfg.recall.judge_model or None)


def judged_domains(lake: Lake, model: str, prompt_version: str, retry_errors: bool):
    """Domains the judge model and prompt already answered (latest attempt not an engine
    error when `retry_errors`)."""
    from pyspark.sql import functions as F

    from jobs.llm_stage import latest_attempt

    rows = lake.read("domain_verdicts").where((F.col("model") == model) & (F.col("prompt_version") == prompt_version))
    if retry_errors:
        rows = latest_attempt(rows, ["domain"]).where(F.col("status") != "engine_error")
    return rows.select("domain").distinct()


def judge_samples(docs, domains_df, n: int, snippet_chars: int, seed: int):
    """(domain, samples): per domain, `n` pages picked by a seeded hash, as a JSON list of
    URL, title and the head of the text."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    pages = docs.join(domains_df.select("domain"), "domain", "left_semi")
    order = Window.partitionBy("domain").orderBy(F.xxhash64("doc_id", F.lit(seed)), "doc_id")
    picked = pages.withColumn("_n", F.row_number().over(order)).where(F.col("_n") <= n)
    page = F.struct("_n", "url", "title", F.substring("text", 1, snippet_chars * 2).alias("text"))
    ordered = F.sort_array(F.collect_list(page))
    as_json = F.to_json(F.transform(ordered, lambda p: F.struct(p["url"].alias("url"), p["title"].alias("title"), p["text"].alias("text"))))
    return picked.groupBy("domain").agg(as_json.alias("samples"))


def judge(spark, cfg: Config, lake: Lake, round_no: int = 1) -> dict:
    """Ask the LLM about the round's candidate domains not judged yet; then refresh `domains`."""
    from pyspark.sql import functions as F

    from jobs.llm_stage import LlmStageError, check_model, check_task, generate_slices, status_counters
    from lib.llm.prompts import PromptError, load_prompt
    from lib.llm.types import Sampling

    r = cfg.recall
    if not lake.exists("domains") or lake.read("domains").where(F.col("round") == round_no).limit(1).count() == 0:
        raise RecallError(f"no domain statistics for round {round_no} (run `webinstruct recall domains --round {round_no}`)")
    try:
        prompt = load_prompt(r.judge_prompt)
    except PromptError as exc:
        raise RecallError(f"recall.judge_prompt: {exc}") from None
    spec = judge_spec(cfg)
    try:
        check_model(spec)
    except LlmStageError as exc:
        raise RecallError(str(exc)) from None
    candidates = lake.read("domains").where((F.col("round") == round_no) & F.col("candidate"))
    candidates = candidates.select("domain", "round", "documents", "recalled")
    if lake.exists("domain_verdicts"):
        candidates = candidates.join(judged_domains(lake, spec.model, prompt.version, r.retry_errors), "domain", "left_anti")
    samples = judge_samples(_documents(lake, cfg), candidates, r.judge_samples, r.snippet_chars, r.sample_seed)
    todo = candidates.join(samples, "domain", "left").select("domain", "round", "documents", "recalled", "samples")
    recorder = RunRecorder(lake, f"recall.judge.{round_no}", cfg, args={"round": round_no, "model": spec.model, "prompt_version": prompt.version})
    sampling = Sampling(temperature=0.0, top_p=1.0, max_tokens=r.judge_max_tokens, seed=cfg.llm.seed,
                        repetition_penalty=r.judge_repetition_penalty)
    max_model_len, max_tokens, snippet_chars = cfg.llm.max_model_len, r.judge_max_tokens, r.snippet_chars

    def make_task(tokenizer):
        from lib.domain_judge import DomainJudgeTask

        return DomainJudgeTask(prompt, spec.model, tokenizer, max_model_len, max_tokens, snippet_chars)

    try:
        check_task(spec, make_task)
    except LlmStageError as exc:
        raise RecallError(str(exc)) from None
    counters = generate_slices(
        spark, cfg, lake, stage="recall.judge", table="domain_verdicts", todo=todo, per_commit=r.judge_commit, spec=spec,
        sampling=sampling, make_task=make_task, out_schema=DOMAIN_VERDICTS, stamp="judged_at", run_id=recorder.run_id,
        scratch_parts=("judge", recorder.run_id),
    )
    counters["judged"] = counters.pop("records_in")
    counters.update(status_counters(lake, "domain_verdicts", recorder.run_id))
    if counters["judged"]:
        mine = lake.read("domain_verdicts").where((F.col("run_id") == recorder.run_id) & (F.col("status") == "ok"))
        counters["accepted"] = mine.where(F.col("educational")).count()
        counters["rejected"] = mine.where(~F.col("educational")).count()
    recorder.finish("ok", counters)
    if counters["judged"]:
        domains(spark, cfg, lake, round_no)  # carry the new verdicts into the round's rows
    return counters


# --- the whole stage -----------------------------------------------------------------

def run(spark, cfg: Config, lake: Lake) -> dict:
    """Both rounds, each step incremental. Returns counters keyed by round and step."""
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
    return out


def _merge(out: dict, prefix: str, counters: dict) -> None:
    for k, v in counters.items():
        out[f"{prefix}_{k}"] = v


def summary_rows(lake: Lake, counters: dict) -> list[tuple[str, object]]:
    from pyspark.sql import functions as F

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
    if lake.exists("domain_verdicts"):
        from jobs.views import domain_verdicts

        v = domain_verdicts(lake).groupBy("status", "educational").count().collect()
        rows.append(("domains accepted / rejected / unparsed (all)",
                     f"{sum(x['count'] for x in v if x['status'] == 'ok' and x['educational'])} / "
                     f"{sum(x['count'] for x in v if x['status'] == 'ok' and not x['educational'])} / "
                     f"{sum(x['count'] for x in v if x['status'] != 'ok')}"))
    if lake.exists("recall_scores"):
        from jobs.views import documents_recalled

        rows.append((f"documents_recalled ({lake.config.recall.recalled})", documents_recalled(lake).count()))
    return rows


def main(argv: list[str] | None = None) -> int:
    import sys

    from jobs.cli import main as cli_main

    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0].startswith("-"):
        args = ["run", *args]
    return cli_main(["recall", *args])


if __name__ == "__main__":
    raise SystemExit(main())
