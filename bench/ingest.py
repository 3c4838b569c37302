"""Ingest throughput on one real archive: our record loop, our Spark job, and datatrove.

Rate = HTML responses processed per second per core on
../shared/data/warc/real/webis_archive-query-log_serps_990.warc.gz (990 responses), the
same input for all three, medians of --repeats runs, in one process run side by side:

  (a) lib loop: lib.ingest.archive.ArchiveProcessor alone (fastwarc -> resiliparse -> lid.176)
  (b) Spark job: webinstruct.jobs.stages.ingest.run into a fresh Delta lake, Spark in local[1] (one core;
      one archive is one task), timed from job start to the last commit; the session is
      started once beforehand, and the Python worker is warm after the first repeat
  (c) datatrove: WarcReader -> Trafilatura -> LanguageFilter, chained in-process.
      Offline, its lid.176.bin download is replaced by the lid.176.ftz we ship with, and
      its check for the fasttext-numpy2-wheel distribution accepts fasttext-numpy2.

    .venv/bin/python -m bench.ingest [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ARCHIVE = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "warc" / "real" / "webis_archive-query-log_serps_990.warc.gz"
RESPONSES = 990


def lib_loop() -> tuple[float, int]:
    from webinstruct.lib.ingest.archive import ArchiveProcessor, FileReport, IngestOptions

    processor = ArchiveProcessor(IngestOptions())
    start = time.perf_counter()
    report = FileReport(str(ARCHIVE))
    kept = sum(1 for _ in processor.process(str(ARCHIVE), report))
    return time.perf_counter() - start, kept


def spark_job(spark) -> tuple[float, int]:
    from webinstruct.jobs.core.config import load_config
    from webinstruct.jobs.core.lake import open_lake
    from webinstruct.jobs.stages import ingest

    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(lake=os.path.join(tmp, "lake"), overrides=["spark.shuffle_partitions=1"])
        lake = open_lake(spark, cfg)
        start = time.perf_counter()
        counters = ingest.run(spark, cfg, lake, [str(ARCHIVE)])
        return time.perf_counter() - start, counters["documents_written"]


def datatrove_pipeline() -> tuple[float, int]:
    import datatrove.utils._import_utils as dt_imports
    import datatrove.utils.lid as dt_lid
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import LanguageFilter
    from datatrove.pipeline.readers import WarcReader

    from webinstruct.lib.ingest.langid import bundled_model_path

    dt_lid.cached_asset_path_or_download = lambda *a, **k: bundled_model_path()
    # datatrove asks for the fasttext-numpy2-wheel distribution; fasttext-numpy2 provides
    # the same `fasttext` module (and is the one that works here with numpy 2).
    check = dt_imports._is_distribution_available
    dt_imports._is_distribution_available = lambda name: name == "fasttext-numpy2-wheel" or check(name)
    start = time.perf_counter()
    docs = WarcReader(data_folder=str(ARCHIVE.parent), glob_pattern=ARCHIVE.name).run(None, 0, 1)
    docs = Trafilatura().run(docs, 0, 1)
    docs = LanguageFilter().run(docs, 0, 1)
    kept = sum(1 for _ in docs)
    return time.perf_counter() - start, kept


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if not ARCHIVE.exists():
        sys.exit(f"archive not found: {ARCHIVE}")

    from webinstruct.jobs.core.config import load_config
    from webinstruct.jobs.core.session import get_spark

    spark = get_spark(load_config(overrides=["spark.master=local[1]", "spark.shuffle_partitions=1"]))
    results = {}
    for name, fn in (("lib loop", lib_loop), ("spark job", lambda: spark_job(spark)), ("datatrove", datatrove_pipeline)):
        runs = [fn() for _ in range(args.repeats)]
        seconds = statistics.median(r[0] for r in runs)
        results[name] = (seconds, runs[0][1], [round(r[0], 2) for r in runs])
        print(f"{name}: {[round(r[0], 2) for r in runs]} s, {runs[0][1]} documents out", flush=True)
    print(f"\n{ARCHIVE.name}: {RESPONSES} HTML responses, medians of {args.repeats}, 1 core each")
    print(f"{'pipeline':12} {'seconds':>8} {'pages/s/core':>13} {'docs out':>9}  runs")
    for name, (seconds, kept, runs) in results.items():
        print(f"{name:12} {seconds:8.2f} {RESPONSES / seconds:13.1f} {kept:9d}  {runs}")
    lib, job, dt = (RESPONSES / results[k][0] for k in ("lib loop", "spark job", "datatrove"))
    print(f"\nspark job / datatrove: {job / dt:.1f}x   (target >= 5x)")
    print(f"spark job / lib loop:  {job / lib:.2f}   (target >= 0.70)")
    spark.stop()


if __name__ == "__main__":
    main()
