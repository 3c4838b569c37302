"""Near-duplicate removal: our Spark dedup job against datatrove's four-stage MinHash dedup.

Corpus (built here, not timed): the main text of the real pages in
../shared/data/pages (wceb2026, scrapinghub_news) and of the SERP archive's pages, scaled
to --docs documents by repetition with edits (tests/planted.py): exact copies, light
edits (about 0.5-2% of words changed plus boilerplate: mostly Jaccard >= 0.8 to their
original) and heavy edits (5-10% of words: mostly below the threshold). Each copy records
its original, so recall is measured on planted pairs.

Both tools run in one process run, side by side, with the same cores, the same shingles
(word 5-grams) and the same bands x rows (ours from datasketch's optimal_param at the
threshold):
  ours:      webinstruct.jobs.stages.dedup.run on a `documents` Delta table, Spark local[CORES], from job
             start to the committed `dedup` table (the kept set is then a view)
  datatrove: MinhashDedupSignature -> Buckets -> Cluster -> Filter with
             LocalPipelineExecutor(tasks=workers=CORES) (Cluster is one task by design),
             its defaults otherwise (spaCy English word tokenizer, xxhash 64-bit), from
             the first stage's start to the Filter's written output

Quality, per tool:
  recall     planted (copy, original) pairs with true shingle Jaccard >= threshold that
             end up in one cluster
  precision  dropped documents whose true Jaccard with the document kept for their
             cluster is >= threshold (exact copies count as 1.0)

    .venv/bin/python -m bench.dedup [--docs 50000] [--cores 2] [--no-datatrove]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

DATA = REPO.parent / "shared" / "data"
SERP = DATA / "warc" / "real" / "webis_archive-query-log_serps_990.warc.gz"


# ---------------------------------------------------------------------------------------
# Corpus
# ---------------------------------------------------------------------------------------
def base_texts() -> list[str]:
    from tests.planted import load_pages
    from webinstruct.lib.ingest.archive import ArchiveProcessor, FileReport, IngestOptions

    texts = [p["main_content"] for p in load_pages(DATA / "pages" / "wceb2026", min_words=50)]
    news = json.loads((DATA / "pages" / "scrapinghub_news" / "ground-truth.json").read_text())
    texts += [v["articleBody"] for v in news.values() if len((v.get("articleBody") or "").split()) >= 50]
    processor = ArchiveProcessor(IngestOptions(languages=(), min_words=50))
    texts += [d["text"] for d in processor.process(str(SERP), FileReport(str(SERP)))]
    return texts


def build_corpus(n_docs: int, seed: int = 7) -> list[dict]:
    from tests.planted import variant

    bases = base_texts()
    rng = random.Random(seed)
    vocab = sorted({w for t in bases for w in t.split() if w.isalpha() and len(w) > 3})
    t0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    docs = [{"id": f"b{i}", "text": t, "base": i, "kind": "original"} for i, t in enumerate(bases)]
    kinds = ["exact", "light", "light", "heavy"]
    i = 0
    while len(docs) < n_docs:
        b = rng.randrange(len(bases))
        kind = kinds[i % len(kinds)]
        if kind == "exact":
            text = bases[b]
        elif kind == "light":
            text = variant(bases[b], rng, vocab, share=rng.choice([0.005, 0.01, 0.02]))
        else:
            text = variant(bases[b], rng, vocab)
        docs.append({"id": f"c{i}", "text": text, "base": b, "kind": kind})
        i += 1
    for k, d in enumerate(docs):
        d["fetch_time"] = t0 + dt.timedelta(seconds=k)
    return docs


# ---------------------------------------------------------------------------------------
# Ours
# ---------------------------------------------------------------------------------------
def run_ours(docs: list[dict], cores: int, work: Path, threshold: float, extra: list[str]) -> tuple[float, dict, dict[str, str], set[str]]:
    from webinstruct.jobs.core.config import load_config
    from webinstruct.jobs.core.lake import open_lake
    from webinstruct.jobs.core.session import get_spark
    from webinstruct.jobs.core.tables import DOCUMENTS
    from webinstruct.jobs.stages import dedup

    overrides = [f"spark.master=local[{cores}]", f"spark.shuffle_partitions={cores * 4}", "spark.driver_memory=6g",
                 f"dedup.threshold={threshold}", "dedup.input=documents", *extra]
    cfg = load_config(lake=str(work / "lake"), overrides=overrides)
    spark = get_spark(cfg)
    lake = open_lake(spark, cfg)
    names = [f.name for f in DOCUMENTS.fields]
    rows = [{**{n: None for n in names}, "doc_id": d["id"], "url": f"https://bench.example/{d['id']}",
             "text": d["text"], "fetch_time": d["fetch_time"]} for d in docs]
    lake.append("documents", spark.createDataFrame(rows, DOCUMENTS).repartition(cores * 4))

    # Warm-up on another lake so Python workers are started, as on a running cluster.
    warm_cfg = load_config(lake=str(work / "warm"), overrides=overrides)
    warm = open_lake(spark, warm_cfg)
    warm.append("documents", spark.createDataFrame(rows[:200:7], DOCUMENTS))
    dedup.run(spark, warm_cfg, warm)

    start = time.perf_counter()
    counters = dedup.run(spark, cfg, lake)
    seconds = time.perf_counter() - start
    out = lake.read("dedup").select("doc_id", "cluster_id", "is_keeper").collect()
    cluster = {r["doc_id"]: r["cluster_id"] for r in out}
    dropped = {r["doc_id"] for r in out if not r["is_keeper"]}
    spark.stop()
    return seconds, counters, cluster, dropped


# ---------------------------------------------------------------------------------------
# datatrove
# ---------------------------------------------------------------------------------------
def run_datatrove(docs: list[dict], cores: int, work: Path, bands: int, rows: int) -> tuple[float, dict[str, str], set[str], dict]:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from loguru import logger

    logger.remove()  # datatrove logs every task at INFO; its stage timings are printed below
    logger.add(sys.stderr, level="WARNING")

    inp = work / "dt-input"
    inp.mkdir(parents=True)
    shards = [open(inp / f"{k:03d}.jsonl", "w", encoding="utf-8") for k in range(cores)]
    for k, d in enumerate(docs):
        shards[k % cores].write(json.dumps({"id": d["id"], "text": d["text"]}) + "\n")
    for f in shards:
        f.close()

    config = MinhashConfig(n_grams=5, num_buckets=bands, hashes_per_bucket=rows)
    sigs, buckets, removed, out, excl = (str(work / x) for x in ("sigs", "buckets", "remove", "out", "excluded"))
    logs = str(work / "logs")

    def reader():
        return JsonlReader(str(inp), compression=None)

    stages = [
        ("signatures", [reader(), MinhashDedupSignature(output_folder=sigs, config=config)], cores),
        ("buckets", [MinhashDedupBuckets(input_folder=sigs, output_folder=buckets, config=config)], bands),
        ("cluster", [MinhashDedupCluster(input_folder=buckets, output_folder=removed, config=config, save_cluster_id=True)], 1),
        ("filter", [reader(), MinhashDedupFilter(input_folder=removed, exclusion_writer=JsonlWriter(excl, compression=None), load_cluster_ids=True),
                    JsonlWriter(out, compression=None)], cores),
    ]
    times = {}
    start = time.perf_counter()
    for name, pipeline, tasks in stages:
        t = time.perf_counter()
        LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=min(cores, tasks), logging_dir=f"{logs}/{name}",
                              skip_completed=False).run()
        times[name] = time.perf_counter() - t
    seconds = time.perf_counter() - start

    cluster, dropped = {}, set()
    for folder, is_dropped in ((out, False), (excl, True)):
        for path in Path(folder).glob("*.jsonl"):
            for line in open(path, encoding="utf-8"):
                d = json.loads(line)
                cid = d["metadata"].get("minhash_cluster_id", -1)
                cluster[d["id"]] = f"c{cid}" if cid != -1 else d["id"]
                if is_dropped:
                    dropped.add(d["id"])
    # datatrove's cluster id is not a document: name each cluster by its kept member.
    keeper_of = {c: i for i, c in cluster.items() if i not in dropped}
    cluster = {i: keeper_of.get(c, c) for i, c in cluster.items()}
    return seconds, cluster, dropped, times


# ---------------------------------------------------------------------------------------
# Quality
# ---------------------------------------------------------------------------------------
class Truth:
    """Planted pairs and true Jaccard, on the same hashed shingle sets the job verifies with."""

    def __init__(self, docs: list[dict], threshold: float):
        self.threshold = threshold
        self.by_id = {d["id"]: d for d in docs}
        self._sets: dict[str, bytes] = {}
        originals = {d["base"]: d["id"] for d in docs if d["kind"] == "original"}
        self.pairs = [(d["id"], originals[d["base"]]) for d in docs if d["kind"] != "original"]
        self.true_pairs = [p for p in self.pairs if self.jaccard(*p) >= threshold]

    def jaccard(self, a: str, b: str) -> float:
        from webinstruct.lib.dedup.minhash import set_jaccard, text_set_bytes

        sets = []
        for doc_id in (a, b):
            text = self.by_id[doc_id]["text"]
            if text not in self._sets:
                self._sets[text] = text_set_bytes(text, 5)
            sets.append(self._sets[text])
        return set_jaccard(*sets)

    def score(self, cluster: dict[str, str], dropped: set[str]) -> tuple[float, float]:
        recall = sum(cluster.get(a, a) == cluster.get(b, b) for a, b in self.true_pairs) / max(1, len(self.true_pairs))
        good = sum(self.jaccard(d, cluster[d]) >= self.threshold for d in dropped)
        return recall, good / max(1, len(dropped))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=50_000)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--workdir", default="build/bench-dedup")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config override for our job")
    parser.add_argument("--only", choices=("ours", "datatrove"), default=None, help="run one side only")
    args = parser.parse_args()

    work = Path(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    t = time.perf_counter()
    docs = build_corpus(args.docs)
    truth = Truth(docs, args.threshold)
    kinds = {k: sum(d["kind"] == k for d in docs) for k in ("original", "exact", "light", "heavy")}
    print(f"corpus: {len(docs)} documents {kinds}, {sum(len(d['text'].split()) for d in docs) / len(docs):.0f} words "
          f"on average; planted pairs at Jaccard >= {args.threshold}: {len(truth.true_pairs)} "
          f"(built in {time.perf_counter() - t:.0f} s, not timed)")

    from webinstruct.jobs.core.config import load_config
    from webinstruct.jobs.stages.dedup import lsh_params

    params = lsh_params(load_config(overrides=[f"dedup.threshold={args.threshold}", *args.overrides]))
    results = []
    if args.only != "datatrove":
        seconds, counters, cluster, dropped = run_ours(docs, args.cores, work / "ours", args.threshold, args.overrides)
        recall, precision = truth.score(cluster, dropped)
        sig_rate = len(docs) / (counters["ms_sketch"] / 1000)
        results.append(("webinstruct (Spark)", seconds, sig_rate, recall, precision, len(dropped)))
        print(f"ours: {seconds:.1f} s; steps ms: " + ", ".join(f"{k[3:]} {v}" for k, v in counters.items() if k.startswith("ms_")))

    if args.only != "ours":
        os.environ.setdefault("DATATROVE_COLORIZE_LOGS", "0")
        seconds, cluster, dropped, times = run_datatrove(docs, args.cores, work / "datatrove", params.bands, params.rows)
        recall, precision = truth.score(cluster, dropped)
        results.append(("datatrove 0.10.1", seconds, len(docs) / times["signatures"], recall, precision, len(dropped)))
        print(f"datatrove: {seconds:.1f} s; stages s: " + ", ".join(f"{k} {v:.1f}" for k, v in times.items()))

    from webinstruct.lib.text_table import render

    print(f"\n{len(docs)} documents, {args.cores} cores, threshold {args.threshold}, "
          f"{params.bands} bands x {params.rows} rows, word 5-grams")
    table = [[name, f"{secs:.1f}", f"{sig / args.cores:.0f}", f"{len(docs) / secs / args.cores:.0f}",
              f"{rec:.3f}", f"{prec:.3f}", drop] for name, secs, sig, rec, prec, drop in results]
    print(render(["pipeline", "seconds", "signatures/s/core", "docs/s/core end-to-end", "recall", "precision", "dropped"], table))
    if len(results) == 2:
        print(f"speed-up end-to-end: {results[1][1] / results[0][1]:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
