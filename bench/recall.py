"""Recall scoring: our Spark pandas UDF against fastText's predict called in one process.

Corpus (built here, not timed): the real texts of ../shared/data (wceb2026 and
scrapinghub_news main text, StackMathQA pairs, the SERP archive's pages), repeated to
--docs documents at their real lengths. The model is trained here on the same seeds as
the tests (StackMathQA + forum pages against other pages), with the config's fastText
settings (conf/local.toml: dim 256, word bigrams, 200K buckets).

Both sides do the same work per document, `prepare` (lib/recall/text.py) then predict:
  raw      one Python process: Scorer.scores([prepare(t) for t in texts]) in batches of
           10,000 (what one core does with no Spark at all)
  udf      Spark local[CORES]: the texts from a parquet file through the scoring pandas UDF
           into a no-op sink (SUM of the scores), timed after a warm-up pass so workers
           hold the model, as they do in a long job
  stage    webinstruct.jobs.stages.recall.score on a `documents` Delta table, from job start to the committed
           `recall_scores` rows (anti-join, UDF, Delta write and commit)
Per-core rates divide by CORES. The ratio the issue asks for is udf / raw per core.

    .venv/bin/python -m bench.recall [--docs 50000] [--cores 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

DATA = REPO.parent / "shared" / "data"
SERP = DATA / "warc" / "real" / "webis_archive-query-log_serps_990.warc.gz"


def real_texts() -> list[str]:
    from webinstruct.lib.ingest.archive import ArchiveProcessor, FileReport, IngestOptions

    pages = [json.loads(line) for line in open(DATA / "pages" / "wceb2026" / "labels.jsonl", encoding="utf-8")]
    texts = [p["main_content"] for p in pages]
    news = json.loads((DATA / "pages" / "scrapinghub_news" / "ground-truth.json").read_text())
    texts += [v["articleBody"] for v in news.values() if v.get("articleBody")]
    texts += [f"{r['Q']}\n{r['A']}" for r in map(json.loads, open(DATA / "qa" / "stackmathqa_700.jsonl", encoding="utf-8"))]
    processor = ArchiveProcessor(IngestOptions(languages=(), min_words=30))
    texts += [d["text"] for d in processor.process(str(SERP), FileReport(str(SERP)))]
    return [t for t in texts if t and t.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=50_000)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()

    import numpy as np

    from webinstruct.jobs.core.config import load_config
    from webinstruct.jobs.core.lake import open_lake
    from webinstruct.jobs.core.session import get_spark
    from webinstruct.jobs.core.tables import DOCUMENTS
    from webinstruct.jobs.stages import recall
    from webinstruct.lib.ingest.archive import document_id, text_hash
    from webinstruct.lib.recall.model import Scorer
    from webinstruct.lib.recall.text import prepare

    bases = real_texts()
    texts = [bases[i % len(bases)] for i in range(args.docs)]
    words = np.array([len(t.split()) for t in texts])
    print(f"corpus: {len(texts):,} documents from {len(bases):,} real texts; words per document median "
          f"{int(np.median(words))}, mean {words.mean():.0f}, max {words.max():,}")

    work = Path(tempfile.mkdtemp(prefix="webinstruct-bench-recall-"))
    try:
        labels = DATA / "pages" / "wceb2026" / "labels.jsonl"
        positives = (f'[{{path = "{DATA / "qa" / "stackmathqa_700.jsonl"}", text = ["Q", "A"], url = "meta.url"}}, '
                     f'{{path = "{labels}", text = "main_content", url = "url", where = "page_type = \'forum\'"}}]')
        negatives = f'[{{path = "{labels}", text = "main_content", url = "url", where = "page_type <> \'forum\'"}}]'
        cfg = load_config(lake=str(work / "lake"), overrides=[
            f"spark.master=local[{args.cores}]", f"spark.shuffle_partitions={args.cores * 4}", "spark.driver_memory=6g",
            f"recall.positives={positives}", f"recall.negatives={negatives}", "recall.negatives_from_documents=0",
        ])
        spark = get_spark(cfg)
        lake = open_lake(spark, cfg)
        # documents: written once (not timed); doc ids unique per copy
        rows = []
        for i, t in enumerate(texts):
            row = {f.name: None for f in DOCUMENTS.fields}
            url = f"https://bench.example/{i}"
            row.update(url=url, text=t, text_hash=text_hash(t))
            row["doc_id"] = document_id(url, row["text_hash"])
            rows.append(row)
        spark.createDataFrame(rows, DOCUMENTS).repartition(args.cores * 4).write.parquet(str(work / "docs.parquet"))
        docs = spark.read.parquet(str(work / "docs.parquet"))
        lake.append("documents", docs)
        del rows
        model = recall.train(spark, cfg, lake, 1)
        print(f"model: {model['model_id']} ({model['file_bytes'] / 1e6:.0f} MB, dim {cfg.recall.dim}, bucket {cfg.recall.bucket:,}); "
              f"held-out F1 {model['metrics']['f1']:.3f}, AUC {model['metrics']['auc']:.3f}")

        # raw: one process, same preparation and predict
        scorer = Scorer(model["path"])
        scorer.scores([prepare(t, cfg.recall.max_words) for t in texts[:1000]])  # warm
        start = time.perf_counter()
        raw = []
        for i in range(0, len(texts), 10_000):
            raw.append(scorer.scores([prepare(t, cfg.recall.max_words) for t in texts[i : i + 10_000]]))
        raw_s = time.perf_counter() - start
        raw = np.concatenate(raw)
        start = time.perf_counter()
        prepared = [prepare(t, cfg.recall.max_words) for t in texts]
        prep_s = time.perf_counter() - start
        start = time.perf_counter()
        scorer.scores(prepared)
        predict_s = time.perf_counter() - start

        # udf: the same texts through the pandas UDF into a no-op sink
        from pyspark.sql import functions as F

        from webinstruct.jobs.core.session import ship_file
        from webinstruct.udfs.recall import page_head, score_udf

        udf = score_udf(ship_file(spark, model["path"], lambda local: False), model["path"], cfg.recall.max_words)
        head = page_head("text", cfg.recall.max_words)
        docs.select(udf(head).alias("s")).agg(F.sum("s")).collect()  # warm-up: workers load the model
        start = time.perf_counter()
        total = docs.select(udf(head).alias("s")).agg(F.sum("s")).collect()[0][0]
        udf_s = time.perf_counter() - start

        # stage: the recall score job end to end (workers already warm)
        start = time.perf_counter()
        counters = recall.score(spark, cfg, lake, 1)
        stage_s = time.perf_counter() - start
        stored = {r["doc_id"]: r["score"] for r in lake.read("recall_scores").collect()}
        ids = [document_id(f"https://bench.example/{i}", text_hash(t)) for i, t in enumerate(texts)]
        diff = max(abs(stored[d] - s) for d, s in zip(ids, raw))

        n = len(texts)
        per_core = {
            "raw": n / raw_s, "udf": n / udf_s / args.cores, "stage": n / stage_s / args.cores,
        }
        print(f"\n{n:,} documents, {args.cores} cores; figures per core")
        print("| side | seconds | docs/s/core | vs raw |")
        print("|---|---|---|---|")
        print(f"| raw: prepare + fastText predict, one process | {raw_s:.2f} | {per_core['raw']:,.0f} | 1.00 |")
        print(f"| UDF (pandas, Spark local[{args.cores}], no-op sink) | {udf_s:.2f} | {per_core['udf']:,.0f} | {per_core['udf'] / per_core['raw']:.2f} |")
        print(f"| recall score stage (Delta read, anti-join, UDF, Delta commit) | {stage_s:.2f} | {per_core['stage']:,.0f} | "
              f"{per_core['stage'] / per_core['raw']:.2f} |")
        print(f"\nraw split: prepare {prep_s:.2f} s, predict {predict_s:.2f} s ({n / predict_s:,.0f} docs/s predict alone)")
        print(f"scores: stage wrote {counters['scored']:,}; largest difference from raw {diff:.2e}; UDF sum {total:.2f} vs raw {raw.sum():.2f}")
        print(f"\nratio UDF / raw per core: {per_core['udf'] / per_core['raw']:.2f} (target >= 0.70)")
        spark.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
