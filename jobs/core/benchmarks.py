"""The benchmark registry: the `benchmarks` table every decontamination tier reads.

`add` loads sources (config `decontam.benchmarks`, or names and files given on the command
line) on the driver and rewrites the table only when an item changed, so adding the same
benchmarks again writes nothing. A benchmark loaded again replaces its earlier rows (an
item dropped from the file disappears). The set's fingerprint (every item's id and
normalised question) keys the decontamination checks: a changed set rechecks everything.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from pyspark.sql import functions as F

from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.errors import BenchmarkRegistryError
from webinstruct.jobs.core.lease import writes
from webinstruct.jobs.core.runs import RunRecorder
from webinstruct.jobs.core.tables import BENCHMARKS
from webinstruct.lib.decontam.benchmark_spec import BenchmarkSource, BenchmarkSpecError, load_source, parse_benchmarks
from webinstruct.lib.decontam.benchmarks import BenchmarkError
from webinstruct.lib.text_normalize import exact_hash, normalize

TABLE = "benchmarks"


def _rows(sources: list[BenchmarkSource]) -> list[dict]:
    rows, seen = [], {}
    for source in sources:
        try:
            for name, item in load_source(source):
                key = (name, item.item_id)
                if key in seen:
                    raise BenchmarkRegistryError(
                        f"benchmark {name!r}: item id {item.item_id!r} occurs twice ({seen[key]} and {source.describe()}); "
                        "give the file an id field or a different name"
                    )
                seen[key] = source.describe()
                rows.append({"benchmark": name, "split": item.split, "item_id": item.item_id, "question": item.question,
                             "answer": item.answer, "question_hash": exact_hash(normalize(item.question)),
                             "source": source.path or source.dir})
        except BenchmarkError as exc:
            raise BenchmarkRegistryError(str(exc)) from None
    return rows


def _signature(rows) -> set:
    return {(r["benchmark"], r["item_id"], r["split"], r["question_hash"], r["answer"]) for r in rows}


@writes("benchmarks")
def add(spark, cfg: Config, lake, sources: list[BenchmarkSource]) -> dict:
    """Register the sources' items; returns counters (benchmarks, items, written)."""
    rows = _rows(sources)
    names = sorted({r["benchmark"] for r in rows})
    counters = {"benchmarks": len(names), "items": len(rows), "items_written": 0}
    if not rows:
        return counters
    existing = lake.read(TABLE) if lake.exists(TABLE) else None
    if existing is not None:
        current = existing.where(F.col("benchmark").isin(names)).select(
            "benchmark", "item_id", "split", "question_hash", "answer").collect()
        if _signature(r.asDict() for r in current) == _signature(rows):
            return counters  # the same items: nothing to write
    recorder = RunRecorder(lake, "benchmarks", cfg, args={"sources": [s.describe() for s in sources]})
    now = dt.datetime.now(dt.timezone.utc)
    new = spark.createDataFrame([{**r, "run_id": recorder.run_id, "added_at": now} for r in rows], BENCHMARKS)
    keep = existing.where(~F.col("benchmark").isin(names)) if existing is not None else None
    table = new if keep is None else keep.select(*BENCHMARKS.fieldNames()).unionByName(new)
    lake.replace(TABLE, table.select(*BENCHMARKS.fieldNames()))
    counters["items_written"] = len(rows)
    recorder.finish("ok", counters)
    return counters


def listing(lake) -> list[list]:
    if not lake.exists(TABLE):
        return []
    rows = lake.read(TABLE).groupBy("benchmark").agg(
        F.count("*").alias("items"), F.concat_ws(",", F.sort_array(F.collect_set("split"))).alias("splits"),
        F.first("source").alias("source"), F.max("added_at").alias("added_at"),
    ).orderBy("benchmark").collect()
    return [[r["benchmark"], r["splits"], r["items"], r["source"], str(r["added_at"])[:19]] for r in rows]


def load_items(lake):
    """All registered items as a pandas frame (the index builders need them on the driver)."""
    if not lake.exists(TABLE):
        raise BenchmarkRegistryError(
            f"no benchmarks in lake {lake.root}: add some (`webinstruct benchmarks add gsm8k --dir DIR`, or "
            "decontam.benchmarks in the config)"
        )
    frame = lake.read(TABLE).select("benchmark", "split", "item_id", "question", "answer", "question_hash").toPandas()
    return frame.sort_values(["benchmark", "item_id"], kind="stable").reset_index(drop=True)


def fingerprint(items) -> str:
    """Hash of the set of (benchmark, item id, normalised question)."""
    h = hashlib.sha256()
    for b, i, q in zip(items["benchmark"], items["item_id"], items["question_hash"]):
        h.update(f"{b}\x1f{i}\x1f{q}\x1e".encode())
    return h.hexdigest()[:16]


def sources_from_arguments(cfg: Config, names: list[str], folder: str | None, file: str | None, name: str | None,
                           question: str, answer: str, item_id: str, split: str) -> list[BenchmarkSource]:
    """`benchmarks add`'s sources: a --file with a field map, built-in names from --dir, or
    (neither) the config's decontam.benchmarks."""
    try:
        if file:
            if not name:
                raise BenchmarkSpecError("benchmarks add --file needs --name")
            entry = {"path": file, "name": name, "question": question, "answer": answer, "id": item_id, "split": split}
            return parse_benchmarks([entry], "--file")
        if names:
            if not folder:
                raise BenchmarkSpecError("benchmarks add NAME ... needs --dir (the folder holding the released files)")
            return parse_benchmarks([{"builtin": names, "dir": folder}], "benchmarks add")
        sources = parse_benchmarks(cfg.decontam.benchmarks, "decontam.benchmarks")
    except BenchmarkSpecError as exc:
        raise BenchmarkRegistryError(str(exc)) from None
    if not sources:
        raise BenchmarkRegistryError(
            "nothing to add: name built-in benchmarks with --dir, a --file with --name, or set decontam.benchmarks")
    return sources
