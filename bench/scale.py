"""Cost curves: each stage's time and memory at 1x, 4x and 16x a base number of pages.

The archives are written by bench/scale_data.py from the real pages of ../shared/data (the
same mix in every archive, so a size is a number of archives). Each size runs in its own
process, with its own Spark session (local[2], the default 4 GB driver) and a fresh lake:
ingest, recall (train with the seeds, score, domain statistics; no judge), dedup, page
decontamination (GSM8K and MATH), extraction of the pages' schema.org pairs, refine (markup
pairs pass as stated), the gate, the benchmarks' embeddings (once per lake: a fixed cost)
and pair decontamination (tiers 1 and 2, and publish). None of those asks
an LLM; the LLM stages are measured once, on a fixed sample of four pages, per token.

Per stage it records wall seconds; the driver JVM's peak heap in use and its heap after the
stage's closing full GC (what the driver still holds); the peak RSS of the driver JVM and of
the largest Python worker; shuffle bytes written; and the rows of the table the stage
writes. The summary fits time ~ size^k per stage over all sizes.

    .venv/bin/python -m bench.scale [--base 10000] [--sizes 1,4,16] [--label NAME]

writes build/scale/<label>.json and build/scale/<label>-{seconds,memory}.png, and prints the
table. `--compare A,B` prints two stored labels side by side.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import matplotlib
import psutil
from matplotlib import pyplot as plt
from pyspark.sql import functions as F

from bench.scale_data import PER_FILE, SHARED, archives
from webinstruct.jobs.core.config import load_config
from webinstruct.jobs.core.lake import open_lake
from webinstruct.jobs.core.session import get_spark
from webinstruct.jobs.stages import decontam, dedup, extract, gate, ingest, recall, refine
from webinstruct.jobs.stages.decontam.bench import Bench
from webinstruct.lib.llm.offline import prepare

matplotlib.use("Agg")

OUT = Path("build/scale")
GSM = SHARED / "benchmarks"
LABELS = SHARED / "pages" / "wceb2026" / "labels.jsonl"
QA = SHARED / "qa" / "stackmathqa_700.jsonl"
NEGATIVE_TYPES = ("article", "product", "service", "listing")
STAGES = ("ingest", "recall train", "recall score", "recall domains", "dedup", "decontam pages", "extract", "refine", "gate",
          "embed benchmarks", "decontam pairs")
OUTPUT_TABLE = {"ingest": "documents", "recall train": "models", "recall score": "recall_scores", "recall domains": "domains",
                "dedup": "dedup", "decontam pages": "decontam_checked", "extract": "qa_extracted", "refine": "qa_refined",
                "gate": "qa_quality", "embed benchmarks": "benchmarks", "decontam pairs": "webinstruct"}
MB = 1 << 20


def overrides(lake: Path) -> list[str]:
    types = ", ".join(f"'{t}'" for t in NEGATIVE_TYPES)
    positives = (f'[{{path = "{QA}", text = ["Q", "A"], url = "meta.url", name = "stackmathqa"}}, '
                 f'{{path = "{LABELS}", text = "main_content", url = "url", where = "page_type = \'forum\'", name = "forum pages"}}]')
    negatives = f'[{{path = "{LABELS}", text = "main_content", url = "url", where = "page_type IN ({types})", name = "other pages"}}]'
    return [
        "spark.master=local[2]",
        f"recall.positives={positives}", f"recall.negatives={negatives}", "recall.rounds=1", "recall.judge=false",
        "recall.recalled=all",  # every page goes on: dedup and later stages see all of the input
        f'decontam.benchmarks=[{{builtin = "gsm8k", dir = "{GSM}"}}, {{builtin = "math", dir = "{GSM}"}}]',
        "decontam.judge=false", "extract.input=scale_markup_docs", "llm.cpu_threads=2",
    ]


class Probe:
    """Samples the driver's heap and the processes' RSS every 0.2 s from a thread."""

    def __init__(self, spark, histo: bool = False):
        jvm = spark._jvm
        self.sc = spark.sparkContext._jsc.sc()
        self.histo = histo
        self.jvm = jvm
        self.memory = jvm.java.lang.management.ManagementFactory.getMemoryMXBean()
        self.java = psutil.Process(int(jvm.java.lang.ProcessHandle.current().pid()))
        self.me = psutil.Process()
        self.store = spark.sparkContext._jsc.sc().statusStore()
        self.peaks = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        heap = self.memory.getHeapMemoryUsage().getUsed() / MB
        jrss = self.java.memory_info().rss / MB
        workers = 0.0
        for child in self.java.children(recursive=True):
            try:
                workers = max(workers, child.memory_info().rss / MB)
            except psutil.Error:
                pass
        p = self.peaks
        p["heap_peak_mb"] = max(p.get("heap_peak_mb", 0), heap)
        p["driver_rss_mb"] = max(p.get("driver_rss_mb", 0), jrss)
        p["python_driver_rss_mb"] = max(p.get("python_driver_rss_mb", 0), self.me.memory_info().rss / MB)
        p["worker_rss_mb"] = max(p.get("worker_rss_mb", 0), workers)

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self._sample()
            except Exception:  # noqa: BLE001 - the session is going away
                return

    def shuffle_bytes(self) -> int:
        return int(self.store.executorSummary("driver").totalShuffleWrite())

    @contextmanager
    def stage(self, name: str, record: dict):
        self.peaks = {}
        before = self.shuffle_bytes()
        start = time.perf_counter()
        yield
        seconds = time.perf_counter() - start
        self._sample()
        self.jvm.java.lang.System.gc()
        time.sleep(0.3)
        record[name] = dict(self.peaks, seconds=round(seconds, 2), shuffle_mb=round((self.shuffle_bytes() - before) / MB, 1),
                            heap_after_gc_mb=round(self.memory.getHeapMemoryUsage().getUsed() / MB, 1),
                            cached_blocks_mb=round(self.cached_bytes() / MB, 1))
        if self.histo:
            record[name]["histogram"] = self.histogram()

    def cached_bytes(self) -> int:
        """Storage memory in use by the block manager: in local mode the executor's cached
        blocks (Delta's snapshot state, persisted frames) live in the driver's heap."""
        status = self.sc.getExecutorMemoryStatus()
        it = status.iterator()
        used = 0
        while it.hasNext():
            pair = it.next()
            used += int(pair._2()._1()) - int(pair._2()._2())
        return used

    def histogram(self, top: int = 8) -> list[str]:
        """The largest classes on the heap after a full GC (jcmd GC.class_histogram)."""
        out = subprocess.run(["jcmd", str(self.java.pid), "GC.class_histogram"], capture_output=True, text=True, timeout=120).stdout
        return [" ".join(line.split()[1:]) for line in out.splitlines()[2:2 + top]]

    def close(self) -> None:
        self._stop.set()


def run_size(size: int, base: int, workdir: Path, llm_sample: bool, histo: bool = False) -> dict:
    """One size in this process: every stage on a fresh lake."""
    files = max(1, size * base // PER_FILE)
    paths = [str(p) for p in archives(workdir / "warc", files)]
    lake_dir = workdir / f"lake-{size}x"
    shutil.rmtree(lake_dir, ignore_errors=True)
    cfg = load_config(lake=str(lake_dir), overrides=overrides(lake_dir))
    spark = get_spark(cfg)
    lake = open_lake(spark, cfg)
    probe = Probe(spark, histo)
    stages: dict = {}
    steps = [
        ("ingest", lambda: ingest.run(spark, cfg, lake, paths)),
        ("recall train", lambda: recall.step(spark, cfg, lake, "train")),
        ("recall score", lambda: recall.step(spark, cfg, lake, "score")),
        ("recall domains", lambda: recall.step(spark, cfg, lake, "domains")),
        ("dedup", lambda: dedup.run(spark, cfg, lake)),
        ("decontam pages", lambda: decontam.pages(spark, cfg, lake)),
        ("markup docs", lambda: lake.replace("scale_markup_docs", lake.read("documents").join(
            lake.read("qa_markup").select("doc_id").distinct(), "doc_id", "left_semi"))),
        ("extract", lambda: extract.run(spark, cfg, lake)),
        ("refine", lambda: refine.run(spark, cfg, lake)),
        ("gate", lambda: gate.run(spark, cfg, lake)),
        # once per lake and benchmark set (stored in the lake): a fixed cost, shown on its own;
        # the bench keeps the first size's file and gives it to the later sizes' lakes
        ("embed benchmarks", lambda: _embeddings(Bench(spark, cfg, lake), lake_dir, workdir / "embeddings")),
        ("decontam pairs", lambda: decontam.pairs(spark, cfg, lake)),
    ]
    for name, call in steps:
        if name in STAGES:
            with probe.stage(name, stages):
                call()
            stages[name]["rows"] = lake.count(OUTPUT_TABLE[name]) if lake.exists(OUTPUT_TABLE[name]) else 0
            print(f"  {size}x {name}: {stages[name]['seconds']:.1f} s, {stages[name]['rows']:,} rows", flush=True)
        else:
            call()
    result = {"size": size, "pages": files * PER_FILE, "archives": files,
              "archive_mb": round(sum(os.path.getsize(p) for p in paths) / 1e6, 1), "stages": stages}
    if llm_sample:
        result["llm"] = _llm_sample(spark, cfg, lake, probe)
    probe.close()
    spark.stop()
    shutil.rmtree(lake_dir, ignore_errors=True)
    return result


def _embeddings(bench: Bench, lake_dir: Path, cache: Path) -> None:
    stored = lake_dir / "_models" / "embeddings"
    if cache.is_dir() and not stored.exists():
        shutil.copytree(cache, stored)
    bench.matrix()
    if not cache.exists():
        shutil.copytree(stored, cache)


def _llm_sample(spark, cfg, lake, probe) -> dict:
    """Extraction by the offline LLM on four fixed pages without markup: seconds per token."""
    clean = lake.read("documents").join(lake.read("qa_markup").select("doc_id"), "doc_id", "left_anti")
    lake.replace("scale_llm_docs", clean.where(F.length("text") < 3000).orderBy("doc_id").limit(4))
    llm_cfg = dataclasses.replace(cfg, extract=dataclasses.replace(cfg.extract, input="scale_llm_docs", markup="ignore"))
    record: dict = {}
    with probe.stage("llm extract", record):
        counters = extract.run(spark, llm_cfg, lake)
    tokens = int(counters.get("tokens_in", 0)) + int(counters.get("tokens_out", 0))
    out = dict(record["llm extract"], pages=4, tokens_in=int(counters.get("tokens_in", 0)),
               tokens_out=int(counters.get("tokens_out", 0)))
    out["ms_per_token"] = round(1000 * out["seconds"] / tokens, 2) if tokens else None
    return out


def fit_exponent(sizes: list[float], values: list[float]) -> float | None:
    """Least-squares slope of log(value) on log(size)."""
    pts = [(math.log(s), math.log(v)) for s, v in zip(sizes, values) if v and v > 0]
    if len(pts) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    return sum((x - mx) * (y - my) for x, y in pts) / sxx if sxx else None


def held(cell: dict) -> float:
    """What the driver holds after the stage: heap after a full GC less the block manager's
    cached blocks (in local mode the executor's storage shares the driver's heap)."""
    return max(0.0, cell.get("heap_after_gc_mb", 0) - cell.get("cached_blocks_mb", 0))


def table(result: dict) -> str:
    runs = result["runs"]
    sizes = [r["size"] for r in runs]
    head = ["stage"] + [f"{s}x s" for s in sizes] + ["k (fit)", "k (last step)"] + [f"{s}x heap peak / held / RSS MB" for s in sizes] + \
           ["worker RSS MB (max)", "shuffle MB (max)", f"rows at {sizes[-1]}x"]
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for stage in STAGES:
        cells = [r["stages"].get(stage, {}) for r in runs]
        k = fit_exponent(sizes, [c.get("seconds", 0) for c in cells])
        mem = [f"{c.get('heap_peak_mb', 0):,.0f} / {held(c):,.0f} / {c.get('driver_rss_mb', 0):,.0f}" for c in cells]
        last = fit_exponent(sizes[-2:], [c.get("seconds", 0) for c in cells[-2:]]) if len(sizes) > 1 else None
        row = [stage] + [f"{c.get('seconds', 0):.1f}" for c in cells] + [f"{v:.2f}" if v is not None else "-" for v in (k, last)] + mem + [
            f"{max(c.get('worker_rss_mb', 0) for c in cells):,.0f}", f"{max(c.get('shuffle_mb', 0) for c in cells):,.1f}",
            f"{cells[-1].get('rows', 0):,}"]
        lines.append(" | ".join(row))
    totals = [sum(c.get("seconds", 0) for c in r["stages"].values()) for r in runs]
    lines.append(" | ".join(["**all stages**"] + [f"{t:.1f}" for t in totals] + [f"{fit_exponent(sizes, totals):.2f}",
                            f"{fit_exponent(sizes[-2:], totals[-2:]):.2f}"] +
                            [""] * (len(sizes) + 3)))
    pages = ", ".join(f"{r['size']}x = {r['pages']:,} pages ({r['archive_mb']:,.0f} MB of WARC)" for r in runs)
    out = "\n".join(lines) + f"\n\nsizes: {pages}"
    llm = next((r["llm"] for r in runs if r.get("llm")), None)
    if llm:
        out += (f"\nLLM extraction, fixed sample of {llm['pages']} pages: {llm['seconds']:.1f} s for {llm['tokens_in']:,} prompt + "
                f"{llm['tokens_out']:,} generated tokens = {llm['ms_per_token']} ms per token")
    return out


def memory_by_size(result: dict) -> dict[str, list[float]]:
    """Per size: the most the driver held after any stage, what it held after the last one,
    and the largest Python worker's peak RSS over all stages."""
    runs = result["runs"]
    last = [st for st in STAGES if all(st in r["stages"] for r in runs)][-1]
    return {
        "driver held, most after a stage": [max(held(c) for c in r["stages"].values()) for r in runs],
        "driver held after the last stage": [held(r["stages"][last]) for r in runs],
        "largest Python worker": [max(c.get("worker_rss_mb", 0) for c in r["stages"].values()) for r in runs],
    }


def memory_summary(results: list[dict]) -> str:
    sizes = [r["size"] for r in results[0]["runs"]]
    head = ["run", "memory (MB)"] + [f"{s}x" for s in sizes] + [f"{sizes[-1]}x / {sizes[0]}x"]
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for result in results:
        for what, values in memory_by_size(result).items():
            ratio = values[-1] / values[0] if values[0] else float("nan")
            lines.append(" | ".join([result["label"], what] + [f"{v:,.0f}" for v in values] + [f"{ratio:.2f}"]))
    return "\n".join(lines)


def compare_plot(results: list[dict], prefix: Path) -> Path:
    """Driver and Python worker memory against size, one line per run and measure."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for result, style in zip(results, ("--", "-", ":", "-.")):
        sizes = [r["size"] for r in result["runs"]]
        mem = memory_by_size(result)
        for what, values in mem.items():
            ax = axes[1] if what == "largest Python worker" else axes[0]
            ax.plot(sizes, values, style, marker="o", label=f"{result['label']}: {what}")
    for ax, title in zip(axes, ("driver JVM heap held after a full GC", "largest Python worker, peak RSS")):
        ax.set_xscale("log", base=2)
        sizes = [r["size"] for r in results[0]["runs"]]
        ax.set_xticks(sizes, [f"{s}x" for s in sizes])
        ax.set_xlabel(f"input size (1x = {results[0]['runs'][0]['pages']:,} pages)")
        ax.set_ylabel("MB")
        ax.set_title(title, fontsize=10)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = prefix.parent / f"{prefix.name}-memory.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plots(result: dict, prefix: Path) -> list[Path]:
    runs = result["runs"]
    sizes = [r["size"] for r in runs]
    written = []
    for what, ylabel in (("seconds", "seconds"), ("memory", "driver heap held after the stage (MB)")):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        ax.set_prop_cycle(color=plt.cm.tab20.colors[: len(STAGES)])
        for stage in STAGES:
            cells = [r["stages"].get(stage, {}) for r in runs]
            ys = [c.get("seconds", 0) for c in cells] if what == "seconds" else [held(c) for c in cells]
            k = fit_exponent(sizes, ys) if what == "seconds" else None
            ax.plot(sizes, ys, marker="o", label=f"{stage} (k={k:.2f})" if k is not None else stage)
        ax.set_xscale("log", base=2)
        if what == "seconds":
            ax.set_yscale("log")
        ax.set_xticks(sizes, [f"{s}x" for s in sizes])
        ax.set_xlabel(f"input size (1x = {runs[0]['pages']:,} pages)")
        ax.set_ylabel(ylabel)
        ax.set_title(f"webinstruct stages, {result['label']}: {what} against input size")
        ax.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        path = prefix.parent / f"{prefix.name}-{what}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", type=int, default=10_000, help="pages at 1x (a multiple of 2,000)")
    ap.add_argument("--sizes", default="1,4,16")
    ap.add_argument("--label", default="scale")
    ap.add_argument("--workdir", default=str(OUT))
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: one size in this process
    ap.add_argument("--llm-sample", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--compare", help="stored labels, A,B: their tables, driver and worker memory by size, and a figure of both")
    ap.add_argument("--histo", action="store_true", help="record the driver's largest classes after each stage (jcmd)")
    ap.add_argument("--no-llm", action="store_true", help="skip the LLM sample")
    args = ap.parse_args()
    workdir = Path(args.workdir)
    if args.compare:
        results = [json.loads((workdir / f"{label}.json").read_text()) for label in args.compare.split(",")]
        for result in results:
            print(f"\n{result['label']}\n" + table(result))
        print("\n" + memory_summary(results))
        print(f"plot: {compare_plot(results, workdir / ('compare-' + '-'.join(r['label'] for r in results)))}")
        return
    if args.one:
        result = run_size(args.one, args.base, workdir, args.llm_sample, args.histo)
        (workdir / f".{args.label}-{args.one}x.json").write_text(json.dumps(result))
        return
    workdir.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    largest = max(sizes) * args.base // PER_FILE
    start = time.perf_counter()
    archives(workdir / "warc", largest)
    print(f"archives: {largest} ready in {time.perf_counter() - start:.0f} s", flush=True)
    # extract checks the offline model before it reads a page, also for markup pairs: a fresh
    # clone converts it here, once, outside the timed stages
    print(f"offline model: {prepare()}", flush=True)
    runs = []
    for i, size in enumerate(sizes):
        cmd = [sys.executable, "-m", "bench.scale", "--one", str(size), "--base", str(args.base), "--label", args.label,
               "--workdir", str(workdir)] + (["--llm-sample"] if i == 0 and not args.no_llm else []) + (["--histo"] if args.histo else [])
        subprocess.run(cmd, check=True)
        runs.append(json.loads((workdir / f".{args.label}-{size}x.json").read_text()))
    result = {"label": args.label, "base": args.base, "cpu": os.cpu_count(), "runs": runs}
    (workdir / f"{args.label}.json").write_text(json.dumps(result, indent=1))
    print(table(result))
    for path in plots(result, workdir / args.label):
        print(f"plot: {path}")


if __name__ == "__main__":
    main()
