"""Decontamination throughput, and the end-to-end demo's wall time and funnel.

Pairs: the real GSM8K *train* questions with their answers and the 700 StackMathQA pairs
(../shared/data), repeated to --pairs. Benchmarks: all 23 built-in sets (44,752 items).

  tier 1 raw    lib.decontam.ngram_index in one process: index built once (not timed), then each
                pair's question and answer matched (what one core does without Spark)
  tier 1 stage  webinstruct.jobs.stages.decontam.tier1 on a `qa_refined` Delta table through Spark
                local[CORES], from job start to the committed rows (broadcast, UDF, commit)
  tier 2 raw    encode each question with all-MiniLM-L6-v2 (torch on one thread) and search
                the top 5 of the benchmark matrix. The benchmark side is --bench-items
                real questions embedded once (cached under ~/.cache/webinstruct/bench),
                tiled to the full 44,752 rows so the search costs what it costs in
                production.
  demo          `webinstruct demo` in a fresh process on a fresh lake: wall time and the
                funnel it prints (skip with --no-demo)

    .venv/bin/python -m bench.decontam [--pairs 20000] [--tier2-pairs 2000 (0 skips)] [--cores 2]
                                       [--bench-items 4000] [--no-demo]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"


def pairs(n: int) -> list[tuple[str, str]]:
    train = [json.loads(line) for line in open(DATA / "benchmarks" / "gsm8k" / "train.jsonl", encoding="utf-8")]
    qa = [json.loads(line) for line in open(DATA / "qa" / "stackmathqa_700.jsonl", encoding="utf-8")]
    base = [(r["question"], r["answer"]) for r in train] + [(r["Q"], r["A"]) for r in qa]
    random.Random(1).shuffle(base)
    return [base[i % len(base)] for i in range(n)]


def items():
    from webinstruct.lib.decontam.benchmarks import BUILTIN, load_builtin

    return [it for name in BUILTIN for it in load_builtin(name, DATA / "benchmarks")]


def tier1_raw(index, data) -> float:
    started = time.perf_counter()
    flagged = sum(bool(index.match(q) or index.match(a)) for q, a in data)
    seconds = time.perf_counter() - started
    print(f"  tier 1 raw: {len(data)} pairs in {seconds:.1f} s, {flagged} flagged")
    return len(data) / seconds


def tier1_stage(data, all_items, cores: int) -> float:
    import datetime as dt

    from webinstruct.jobs.core.config import load_config
    from webinstruct.jobs.core.lake import open_lake
    from webinstruct.jobs.core.session import get_spark
    from webinstruct.jobs.core.tables import BENCHMARKS, QA_REFINED
    from webinstruct.jobs.core.views import refined_pairs
    from webinstruct.jobs.stages.decontam.bench import Bench
    from webinstruct.jobs.core.scope import stage_scope
    from webinstruct.jobs.stages.decontam.tiers import tier1
    from webinstruct.lib.text_normalize import exact_hash, normalize

    tmp = Path(tempfile.mkdtemp(prefix="bench-decontam-"))
    cfg = load_config(lake=str(tmp / "lake"), overrides=[f"spark.master=local[{cores}]", f"spark.shuffle_partitions={cores}"])
    spark = get_spark(cfg)
    lake = open_lake(spark, cfg)
    now = dt.datetime.now(dt.timezone.utc)
    bench_rows = [{"benchmark": it.benchmark, "split": it.split, "item_id": it.item_id, "question": it.question, "answer": it.answer,
                   "question_hash": exact_hash(normalize(it.question)), "source": "bench", "run_id": "b", "added_at": now} for it in all_items]
    lake.append("benchmarks", spark.createDataFrame(bench_rows, BENCHMARKS))
    rows = [{"qa_id": f"q{i}", "refiner": "m", "doc_id": f"d{i}", "status": "ok", "question": q, "answer": a, "orig_question": q,
             "orig_answer": a, "run_id": "r", "refined_at": now} for i, (q, a) in enumerate(data)]
    lake.append("qa_refined", spark.createDataFrame([{f: r.get(f) for f in QA_REFINED.fieldNames()} for r in rows], QA_REFINED))
    bench = Bench(spark, cfg, lake)
    bench.ngram_index()  # built on the driver before timing, as the raw side
    started = time.perf_counter()
    with stage_scope(spark, lake, "decontam"):  # what a stage entry point opens (broadcasts released at its end)
        out = tier1(spark, cfg, lake, bench, "pair", refined_pairs(lake), "bench")
    seconds = time.perf_counter() - started
    print(f"  tier 1 stage: {out['checked']} pairs in {seconds:.1f} s, {out['units_with_hits']} flagged")
    spark.stop()
    return len(data) / seconds / cores


def tier2_raw(data, all_items, bench_items: int, model: str) -> tuple[float, float, float]:
    import numpy as np
    import torch

    from webinstruct.lib.decontam.embed_index import encode, top_k

    torch.set_num_threads(1)
    cache = Path.home() / ".cache" / "webinstruct" / "bench" / f"bench-emb-{bench_items}.npy"
    if cache.exists():
        part = np.load(cache)
    else:
        sample = random.Random(2).sample(all_items, bench_items)
        part = encode([it.question for it in sample], model, threads=0)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, part)
    matrix = np.concatenate([part] * (len(all_items) // len(part) + 1))[: len(all_items)]
    questions = [q for q, _ in data]
    encode(questions[:64], model, threads=1)  # warm-up: model load
    started = time.perf_counter()
    vectors = encode(questions, model, threads=1)
    enc = time.perf_counter() - started
    started = time.perf_counter()
    top_k(vectors, matrix, 5)
    search = time.perf_counter() - started
    print(f"  tier 2 raw: {len(questions)} questions, encode {enc:.1f} s, top-5 of {len(matrix)} in {search:.1f} s")
    return len(questions) / enc, len(questions) / search, len(questions) / (enc + search)


def demo_run() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-demo-"))
    started = time.perf_counter()
    proc = subprocess.run([str(REPO / ".venv" / "bin" / "webinstruct"), "--lake", str(tmp / "lake"), "demo", "--workdir", str(tmp / "work")],
                          capture_output=True, text=True, cwd=REPO)
    seconds = time.perf_counter() - started
    if proc.returncode:
        print(proc.stderr[-3000:])
        raise SystemExit(f"demo failed ({proc.returncode})")
    lines = proc.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("funnel"))
    end = next(i for i in range(start + 4, len(lines)) if lines[i].startswith("+")) + 1
    print(f"\ndemo wall time: {seconds:.0f} s ({seconds / 60:.1f} min)")
    print("\n".join(lines[start:end]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=20000)
    parser.add_argument("--tier2-pairs", type=int, default=2000)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--bench-items", type=int, default=4000)
    parser.add_argument("--no-demo", action="store_true")
    args = parser.parse_args()
    from webinstruct.jobs.core.config import DecontamSection
    from webinstruct.lib.decontam.ngram_index import NgramIndex
    from webinstruct.lib.text_table import render

    d = DecontamSection()
    all_items = items()
    data = pairs(args.pairs)
    started = time.perf_counter()
    index = NgramIndex.build(all_items, d.ngram, d.min_content)
    print(f"benchmarks: {len(all_items)} items, {len(index)} n-grams, index built in {time.perf_counter() - started:.1f} s")
    raw1 = tier1_raw(index, data)
    stage1 = tier1_stage(data, all_items, args.cores)
    rows = [["tier 1 raw (one process, q + a against all benchmarks)", round(raw1)],
            [f"tier 1 stage (Spark local[{args.cores}], Delta in and out), {len(data)} pairs", round(stage1)]]
    if args.tier2_pairs:  # 0 skips tier 2
        enc, search, both = tier2_raw(data[: args.tier2_pairs], all_items, args.bench_items, d.embed_model)
        rows += [["tier 2 encode (all-MiniLM-L6-v2, CPU, 1 thread)", round(enc, 1)],
                 [f"tier 2 top-5 search over {len(all_items)} items", round(search)],
                 ["tier 2 total", round(both, 1)]]
    print()
    print(render(["measure", "pairs/s/core"], rows))
    if not args.no_demo:
        demo_run()


if __name__ == "__main__":
    main()
