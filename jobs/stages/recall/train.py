"""Train a round's fastText classifier: examples from the seeds (round 1) or the judged
domains (round 2), a held-out split, metrics, the model file in the lake and its row in
`models`. The same examples and settings find the model they made before."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tempfile
from collections import Counter
from pathlib import Path

import pyarrow.dataset as pads
from pyspark.sql import functions as F

from webinstruct.jobs.core import scope, storage
from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.errors import RecallError
from webinstruct.jobs.core.lake import Lake
from webinstruct.jobs.core.lease import writes
from webinstruct.jobs.core.runs import RunRecorder
from webinstruct.jobs.core.tables import MODELS
from webinstruct.jobs.stages.recall.rounds import KIND, accepted_and_rejected, current_model, documents, params_of
from webinstruct.jobs.stages.recall.seeds import configured_examples, documents_as_examples, hash_sample
from webinstruct.lib.recall.model import FastTextParams, Scorer, evaluate, file_hash, holdout
from webinstruct.lib.recall.model import train as train_fasttext
from webinstruct.lib.recall.text import CHARS_PER_WORD, prepare
from webinstruct.udfs.recall import page_head


def training_frames(spark, cfg: Config, lake: Lake, round_no: int):
    """(positives, negatives) as (key, text, url, source) frames for a round."""
    r = cfg.recall
    head = r.max_words * CHARS_PER_WORD  # prepare() reads no further: samples carry only the head

    def clip(df):
        return None if df is None else df.withColumn("text", F.substring("text", 1, head))

    docs = documents(lake, cfg).withColumn("text", F.substring("text", 1, head))
    seeds = clip(configured_examples(spark, lake, cfg, "positives", docs))
    extra_negatives = clip(configured_examples(spark, lake, cfg, "negatives", docs))
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


def _collect(df, max_words: int, name: str) -> list[tuple[str, str, str]]:
    """The examples in this Python process, for fastText. They are written to the stage's
    scratch by the executors and read here with pyarrow: `toLocalIterator` left the rows'
    buffers on the driver's JVM heap after the stage (450 MB held after 15,000 negatives,
    growing with the examples). Only the head `prepare` reads is written."""
    path = scope.current().scratch(name)
    df.select("key", page_head("text", max_words).alias("text"), "source").write.mode("overwrite").parquet(path)
    fs, root = storage.filesystem(path)
    out, seen = [], set()
    for batch in pads.dataset(root, filesystem=fs, format="parquet").to_batches(columns=["key", "text", "source"], batch_size=4096):
        for key, raw, source in zip(*(batch.column(c).to_pylist() for c in ("key", "text", "source"))):
            if key in seen:
                continue
            seen.add(key)
            text = prepare(raw, max_words)
            if text:
                out.append((key, text, source))
    return sorted(out)


def training_key(positives, negatives, params: FastTextParams, cfg: Config) -> str:
    h = hashlib.sha256(json.dumps({**params.as_dict(), "max_words": cfg.recall.max_words,
                                   "test_fraction": cfg.recall.test_fraction, "seed": cfg.recall.sample_seed}, sort_keys=True).encode())
    for label, rows in (("+", positives), ("-", negatives)):
        for key, text, _ in rows:
            h.update(f"{label}\x1f{key}\x1f{text}\n".encode())
    return h.hexdigest()[:32]


@writes("recall")
def train(spark, cfg: Config, lake: Lake, round_no: int = 1, force: bool = False) -> dict:
    """Train the round's classifier; returns its models row plus `trained` (False when the
    same examples and settings already made a model, which is then reused)."""
    r = cfg.recall
    params = params_of(cfg)
    pos_df, neg_df = training_frames(spark, cfg, lake, round_no)
    positives, negatives = _collect(pos_df, r.max_words, f"positives-{round_no}"), _collect(neg_df, r.max_words, f"negatives-{round_no}")
    pos_keys = {k for k, _, _ in positives}
    negatives = [n for n in negatives if n[0] not in pos_keys]  # a page both ways counts as positive
    if not positives or not negatives:
        raise RecallError(f"round {round_no}: {len(positives)} positives and {len(negatives)} negatives; both classes are needed")
    key = training_key(positives, negatives, params, cfg)
    if lake.exists("models") and not force:
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
        "params": json.dumps({**params.as_dict(), "max_words": r.max_words, "text": "lib.recall.text.prepare"}, sort_keys=True),
        "sources": json.dumps(sources, sort_keys=True),
        "metrics": {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))},
        "run_id": recorder.run_id, "created_at": dt.datetime.now(dt.timezone.utc),
    }
    lake.append("models", spark.createDataFrame([row], MODELS))
    recorder.finish("ok", {"train_positives": len(pos_train), "train_negatives": len(neg_train),
                           "test_positives": len(pos_test), "test_negatives": len(neg_test)})
    return {**row, "trained": True}
