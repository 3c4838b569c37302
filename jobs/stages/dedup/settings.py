"""The LSH parameters a dedup table is built with, and the guard that keeps a changed
config from matching band keys made with other parameters."""

from __future__ import annotations

import time
from collections import Counter
from contextlib import contextmanager

from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.errors import DedupConfigMismatch
from webinstruct.lib.dedup.minhash import LshParams, optimal_param

SCHEME = "affine32-sha1"  # lib.dedup.minhash: datasketch's default MinHash scheme


def lsh_params(cfg: Config) -> LshParams:
    d = cfg.dedup
    if d.bands:
        bands, rows = d.bands, d.rows
    else:
        bands, rows = optimal_param(d.threshold, d.num_perm, d.fp_weight, d.fn_weight)
    return LshParams(num_perm=d.num_perm, bands=bands, rows=rows, ngram=d.ngram, seed=d.seed)


def lsh_label(p: LshParams) -> str:
    return f"{SCHEME}/p{p.num_perm}/b{p.bands}x{p.rows}/n{p.ngram}/s{p.seed}"


def check_params(stored_table, label: str) -> None:
    """Refuse to match against band keys made with other parameters."""
    stored = [r["lsh"] for r in stored_table.select("lsh").distinct().limit(5).collect()]
    if stored and stored != [label]:
        raise DedupConfigMismatch(
            f"the dedup table holds band keys made with {', '.join(stored)}, the config gives {label}; "
            "restore dedup.num_perm/bands/rows/ngram/seed/threshold/fp_weight/fn_weight, "
            "or dedup into a new lake"
        )


class Materializer:
    """Cuts lineage: writes a frame to the run's scratch folder and reads it back, or uses a
    local checkpoint (config dedup.checkpoint)."""

    def __init__(self, spark, folder: str, mode: str):
        self.spark, self.folder, self.mode = spark, folder, mode

    def __call__(self, df, name: str):
        if self.mode == "local":
            return df.localCheckpoint(eager=True)
        path = f"{self.folder}/{name}"
        df.write.mode("overwrite").parquet(path)
        return self.spark.read.parquet(path)


@contextmanager
def timed(counters: Counter, key: str):
    """Wall time of a step in ms, into the run's counters (the `runs` table keeps them)."""
    start = time.perf_counter()
    yield
    counters[key] += int((time.perf_counter() - start) * 1000)
