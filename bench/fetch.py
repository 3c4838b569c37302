"""Byte-range fetch against whole-file ingest of the same archives, side by side in one run.

A small Common Crawl is built from the real per-record-gzip archives of
../shared/data/warc/real (Common Crawl's layout and columnar index, tests/cc_mirror.py) and
served over HTTP on loopback with a bandwidth cap. Then, each on a fresh lake: whole-file
ingest of every archive, and select (a seeded 1%, 5% and 20% of the index's records) +
fetch by byte range. For each: bytes the server sent, seconds, documents written.

    taskset -c 0,1 .venv/bin/python -m bench.fetch [--rate-mb 50] [--fractions 0.01,0.05,0.2]

Pin the whole run to the same cores (taskset): both sides then share them alike.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from tests.cc_mirror import RangeServer, build_mirror
from webinstruct.jobs.core.config import load_config
from webinstruct.jobs.core.lake import open_lake
from webinstruct.jobs.core.session import get_spark
from webinstruct.jobs.stages import fetch, ingest, select
from webinstruct.lib.text_table import render

CRAWL = "CC-MAIN-2024-22"
ARCHIVES = ["CC-MAIN-2024-22_whirlwind.warc.gz", "aut_IAH-2008_example.warc.gz", "dolma_wget_sample-0000.warc.gz",
            "dolma_wget_sample-0001.warc.gz", "pywb_iana.warc.gz", "resiliparse_CC-MAIN-2020-34_warcfile.warc.gz",
            "webis_archive-query-log_serps_990.warc.gz"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate-mb", type=float, default=50.0, help="server bandwidth cap, MB/s (0: none)")
    parser.add_argument("--fractions", default="0.01,0.05,0.2")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="webinstruct-bench-fetch-"))
    try:
        rows_by_crawl = build_mirror(work / "cc", {CRAWL: ARCHIVES})
        server = RangeServer(work / "cc", rate=args.rate_mb * 1e6)
        records = len(rows_by_crawl[CRAWL])
        files = sorted({r["warc_filename"] for r in rows_by_crawl[CRAWL]})
        total = sum((work / "cc" / f).stat().st_size for f in files)
        cfg = load_config(lake=str(work / "lake-0"), overrides=["spark.master=local[2]", "spark.shuffle_partitions=2",
                                                                f"fetch.base_url={server.url}"])
        spark = get_spark(cfg)
        rows = []
        lake = open_lake(spark, load_config(lake=str(work / "whole"), overrides=["spark.shuffle_partitions=2"]))
        server.reset()
        started = time.perf_counter()
        ingest.run(spark, lake.config, lake, [server.url + f for f in files])
        seconds = time.perf_counter() - started
        rows.append(["whole-file ingest", records, server.warc_bytes(), f"{server.warc_bytes() / total:.1%}", f"{seconds:.1f}",
                     lake.count("documents"), "1x"])
        whole_bytes = server.warc_bytes()
        for fraction in [float(x) for x in args.fractions.split(",")]:
            cfg = load_config(lake=str(work / f"lake-{fraction}"), overrides=["spark.shuffle_partitions=2", f"fetch.base_url={server.url}"])
            lake = open_lake(spark, cfg)
            select.run(spark, cfg, lake, select.request_from(cfg, index=str(work / "cc"), crawls=[CRAWL], sample=fraction, seed=1,
                                                             mime=[]))
            chosen = lake.count("selection")
            server.reset()
            started = time.perf_counter()
            fetch.run(spark, cfg, lake)
            seconds = time.perf_counter() - started
            sent = server.warc_bytes()
            rows.append([f"select {fraction:.0%} + fetch", chosen, sent, f"{sent / total:.1%}", f"{seconds:.1f}", lake.count("documents"),
                         f"{whole_bytes / sent:.0f}x fewer" if sent else "-"])
        print(f"\n{len(files)} archives, {records:,} records in the index, {total / 1e6:.1f} MB; server capped at "
              f"{args.rate_mb:g} MB/s (0 = none)")
        print(render(["run", "records", "bytes sent", "of the archives", "seconds", "documents", "bytes vs whole files"], rows))
        server.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
