"""The first stage in a fresh session against the same stage warm: what start-up costs.

A fresh process starts Spark (local[2]), then ingests the demo's sample archive (14 pages,
written by lib/demo/sample_archive.py) into a new lake twice: the first run pays the JVM's
cold paths (Delta, Parquet, code generation), the Python workers' start and their imports
and model loads; the second is the same work warm. Printed: session start, both runs, and
the first run's Spark jobs by duration (from the status store), so the start-up cost is
located, not guessed.

    .venv/bin/python -m bench.first_stage
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from webinstruct.jobs.core.config import load_config
from webinstruct.jobs.core.lake import open_lake
from webinstruct.jobs.core.session import get_spark
from webinstruct.jobs.stages import ingest
from webinstruct.lib.demo.sample_archive import build_sample_archive


def jobs_since(store, first_id: int) -> list[tuple[float, str]]:
    out = []
    jobs = store.jobsList(None)
    for i in range(jobs.size()):
        job = jobs.apply(i)
        if job.jobId() < first_id:
            continue
        start, end = job.submissionTime(), job.completionTime()
        if start.isDefined() and end.isDefined():
            seconds = (end.get().getTime() - start.get().getTime()) / 1000
            out.append((seconds, str(job.name())[:90]))
    return sorted(out, reverse=True)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-first-"))
    archive = str(build_sample_archive(tmp / "sample.warc.gz"))
    started = time.perf_counter()
    cfg = load_config(lake=str(tmp / "lake-1"), overrides=["spark.master=local[2]"])
    spark = get_spark(cfg)
    session_s = time.perf_counter() - started
    store = spark.sparkContext._jsc.sc().statusStore()
    runs = []
    for n in (1, 2):
        cfg = load_config(lake=str(tmp / f"lake-{n}"), overrides=["spark.master=local[2]"])
        lake = open_lake(spark, cfg)
        first_job = store.jobsList(None).size()
        start = time.perf_counter()
        counters = ingest.run(spark, cfg, lake, [archive])
        runs.append((time.perf_counter() - start, counters["documents_written"], jobs_since(store, first_job)))
    print(f"session start (JVM, Spark context): {session_s:.1f} s")
    for n, (seconds, docs, _) in enumerate(runs, 1):
        print(f"ingest run {n} ({'fresh session' if n == 1 else 'warm'}): {seconds:.1f} s, {docs} documents")
    print(f"start-up cost of the first stage: {runs[0][0] - runs[1][0]:.1f} s")
    for label, (_, _, jobs) in zip(("first", "second"), runs):
        print(f"\n{label} run, Spark jobs by duration (top 8 of {len(jobs)}, {sum(s for s, _ in jobs):.1f} s in jobs):")
        for seconds, name in jobs[:8]:
            print(f"  {seconds:6.2f} s  {name}")
    spark.stop()


if __name__ == "__main__":
    main()
