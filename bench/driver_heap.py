"""What recall training leaves on the driver's heap: the JVM heap after a full GC, around
the step that brings the training examples to the driver (jobs/stages/recall/train.py
`_collect`), on the scale bench's archives.

The scale bench (bench/scale.py --histo) showed the driver's held heap growing with the
input from recall train on. This isolates that step: ingest, then the round-1 example
frames, then positives and negatives collected, with the heap and its two largest classes
(jcmd GC.class_histogram) after each.

    .venv/bin/python -m bench.driver_heap [--archives 8]
"""

from __future__ import annotations

import argparse
import gc
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.scale import OUT, overrides
from bench.scale_data import archives
from webinstruct.jobs.core.config import load_config
from webinstruct.jobs.core.lake import open_lake
from webinstruct.jobs.core.scope import stage_scope
from webinstruct.jobs.core.session import get_spark
from webinstruct.jobs.stages import ingest
from webinstruct.jobs.stages.recall.train import _collect, training_frames


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--archives", type=int, default=8)
    args = ap.parse_args()
    lake_dir = Path(tempfile.mkdtemp(prefix="bench-heap-")) / "lake"
    cfg = load_config(lake=str(lake_dir), overrides=overrides(lake_dir))
    spark = get_spark(cfg)
    lake = open_lake(spark, cfg)
    jvm = spark._jvm
    pid = jvm.java.lang.ProcessHandle.current().pid()

    def heap(label: str) -> None:
        gc.collect()
        jvm.java.lang.System.gc()
        time.sleep(1)
        used = jvm.java.lang.management.ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed() / 2**20
        lines = subprocess.run(["jcmd", str(pid), "GC.class_histogram"], capture_output=True, text=True).stdout.splitlines()[3:5]
        top = "; ".join(f"{int(x.split()[2]) / 2**20:.0f} MB {x.split()[3]}" for x in lines)
        print(f"{label:<36} heap after GC {used:6.0f} MB   largest: {top}", flush=True)

    ingest.run(spark, cfg, lake, [str(p) for p in archives(OUT / "warc", args.archives)])
    heap("after ingest")
    with stage_scope(spark, lake, "recall"):
        pos_df, neg_df = training_frames(spark, cfg, lake, 1)
        positives = _collect(pos_df, cfg.recall.max_words, "positives")
        heap(f"after positives ({len(positives):,})")
        negatives = _collect(neg_df, cfg.recall.max_words, "negatives")
        heap(f"after negatives ({len(negatives):,})")
        del positives, negatives
    heap("after the stage scope closed")
    spark.stop()
    shutil.rmtree(lake_dir.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
