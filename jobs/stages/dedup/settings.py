"""The LSH parameters a dedup table is built with, and the guard that keeps a changed
config from matching band keys made with other parameters."""

from __future__ import annotations

import functools
import time
from collections import Counter
from contextlib import contextmanager
from typing import Callable

from webinstruct.jobs.core import scope
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


def materializer(checkpoint: str) -> Callable:
    """`materialize(df, name)` for the dedup phases: the stage scope's, with the cut chosen by
    dedup.checkpoint (scratch parquet or a local checkpoint); released when dedup ends."""
    return functools.partial(scope.current().materialize, mode=checkpoint)


@contextmanager
def timed(counters: Counter, key: str):
    """Wall time of a step in ms, into the run's counters (the `runs` table keeps them)."""
    start = time.perf_counter()
    yield
    counters[key] += int((time.perf_counter() - start) * 1000)
