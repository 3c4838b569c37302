"""The size of the plans `publish` (the end of `decontam pairs`) hands to Spark, and its time.

Every frame the stage writes (a materialized step or the published table) is captured
before it runs: lines of its optimized plan, joins, file scans, and broadcast exchanges and
sort-merge joins of its physical plan. A plan of hundreds of joins is built and optimized
on the driver, and each of its broadcast exchanges builds a hash table there (at least one
`spark.buffer.pageSize` page each, 64 MB with a 4 GB driver), concurrently: that is what
ran the demo's driver out of heap before publish materialized its inputs.

    python -m bench.publish_plan --lake lake-demo [--workdir build/demo] [--driver-memory 4g]

Run it on a lake `make demo` finished (the demo's seeds and benchmark are read from WORKDIR).
"""

from __future__ import annotations

import argparse
import importlib
import time
from pathlib import Path

from pyspark.sql.readwriter import DataFrameWriter

from webinstruct.jobs import demo
from webinstruct.jobs.core.config import load_config
from webinstruct.jobs.core.lake import open_lake
from webinstruct.jobs.core.session import get_spark
from webinstruct.jobs.stages.decontam.bench import Bench
from webinstruct.lib.text_table import render


def plan_figures(df) -> dict:
    qe = df._jdf.queryExecution()
    started = time.perf_counter()
    optimized = qe.optimizedPlan().toString()
    physical = qe.executedPlan().toString()
    lines = optimized.splitlines()
    return {
        "plan lines": len(lines),
        "joins": sum(1 for line in lines if "Join " in line),
        "scans": sum(1 for line in lines if "Relation" in line),
        "broadcast exchanges": physical.count("BroadcastExchange"),
        "sort-merge joins": physical.count("SortMergeJoin"),
        "plan s": round(time.perf_counter() - started, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lake", default="lake-demo")
    parser.add_argument("--workdir", default="build/demo")
    parser.add_argument("--driver-memory", default="4g")
    args = parser.parse_args()
    work = Path(args.workdir)
    cfg = load_config(lake=args.lake, overrides=[f"spark.driver_memory={args.driver_memory}"])
    cfg = demo.with_demo_benchmark(demo.with_demo_seeds(cfg, work / "seeds"), work / "benchmark")
    spark = get_spark(cfg)
    lake = open_lake(spark, cfg)
    rows = []
    original = DataFrameWriter.parquet

    def parquet(self, path, *a, **k):
        figures = plan_figures(self._df)
        started = time.perf_counter()
        out = original(self, path, *a, **k)
        rows.append([str(path).rstrip("/").rsplit("/", 1)[-1], *figures.values(), round(time.perf_counter() - started, 2)])
        return out

    DataFrameWriter.parquet = parquet
    publish = importlib.import_module("webinstruct.jobs.stages.decontam.publish").publish
    started = time.perf_counter()
    counters = publish(spark, cfg, lake, Bench(spark, cfg, lake), "bench")
    total = time.perf_counter() - started
    DataFrameWriter.parquet = original
    print(render(["write", "plan lines", "joins", "scans", "broadcast exchanges", "sort-merge joins", "plan s", "write s"], rows))
    print(f"publish: {total:.1f} s, {counters}")


if __name__ == "__main__":
    main()
