"""Python worker memory in each phase of dedup, on the scale bench's archives.

    python -m bench.dedup_memory --archives 16     # 32,000 pages, the scale bench's 16x

Ingests the archives into build/scale/lake-dedup-<N> once (kept for the next run), drops
any `dedup` table, then runs dedup with the largest Python worker's RSS sampled every
0.1 s and printed at the end of every phase (each phase ends in a materialised frame). The
scale bench saw single workers spike to 1-4.5 GB at changing stages and sizes; this shows
what dedup's own work needs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import threading
import time
from pathlib import Path

import psutil

import webinstruct.jobs.stages.dedup as dedup_stage
from bench.scale import overrides
from bench.scale_data import archives
from webinstruct.jobs.core.config import load_config
from webinstruct.jobs.core.lake import open_lake
from webinstruct.jobs.core.session import get_spark
from webinstruct.jobs.stages import dedup, ingest
from webinstruct.jobs.stages.dedup import settings

MB = 1 << 20


class WorkerPeak:
    """Largest RSS among the JVM's child processes (the Python daemon and workers)."""

    def __init__(self, spark):
        self.java = psutil.Process(int(spark._jvm.java.lang.ProcessHandle.current().pid()))
        self.peak = 0.0
        self.who = ""
        self._stop = threading.Event()
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while not self._stop.wait(0.1):
            for child in self.java.children(recursive=True):
                try:
                    rss = child.memory_info().rss / MB
                    if rss > self.peak:
                        self.peak, self.who = rss, f"pid {child.pid} {' '.join(child.cmdline()[:3])}"
                except psutil.Error:
                    pass

    def take(self) -> str:
        """The peak since the last call, and which process made it."""
        out = f"{self.peak:7,.0f} MB ({self.who})"
        self.peak, self.who = 0.0, ""
        return out

    def close(self) -> None:
        self._stop.set()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--archives", type=int, default=16, help="scale archives of 2,000 pages each")
    ap.add_argument("--workdir", default="build/scale")
    args = ap.parse_args()
    workdir = Path(args.workdir)
    paths = [str(p) for p in archives(workdir / "warc", args.archives)]
    lake_dir = workdir / f"lake-dedup-{args.archives}"
    cfg = load_config(lake=str(lake_dir), overrides=overrides(lake_dir) + ["dedup.input=documents"])
    spark = get_spark(cfg)
    lake = open_lake(spark, cfg)
    if not lake.exists("documents"):
        start = time.perf_counter()
        ingest.run(spark, cfg, lake, paths)
        print(f"ingest: {time.perf_counter() - start:.0f} s", flush=True)
    if lake.exists("dedup"):
        shutil.rmtree(lake_dir / "dedup")
        lake = open_lake(spark, cfg)
    probe = WorkerPeak(spark)
    probe.take()
    made = settings.materializer

    def phases(mode):
        materialize = made(mode)

        def timed(df, name, **kw):
            start = time.perf_counter()
            out = materialize(df, name, **kw)
            print(f"  {name:12s} {time.perf_counter() - start:6.1f} s   largest Python worker {probe.take()}", flush=True)
            return out
        return timed

    dedup_stage.materializer = phases  # the stage looks it up in its own module
    start = time.perf_counter()
    counters = dedup.run(spark, cfg, lake)
    print(f"dedup: {time.perf_counter() - start:.0f} s, after the last phase {probe.take()}")
    print(json.dumps({k: counters[k] for k in ("documents_in", "candidate_pairs", "verified_pairs", "kept") if k in counters}))
    probe.close()
    spark.stop()


if __name__ == "__main__":
    main()
