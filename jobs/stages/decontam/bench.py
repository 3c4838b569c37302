"""The registered benchmarks as the tiers need them: items, fingerprint, check keys, the
n-gram index and the embedding matrix, built lazily on the driver."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from webinstruct.jobs.core import benchmarks as registry
from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.contamination import CheckKeys, short_hash
from webinstruct.jobs.core.errors import BenchmarkRegistryError, DecontamError
from webinstruct.jobs.core.session import parallelism
from webinstruct.lib.decontam.benchmark_spec import BenchmarkSpecError, parse_benchmarks
from webinstruct.lib.decontam.benchmarks import Item
from webinstruct.lib.decontam.embed_index import model_path
from webinstruct.lib.decontam.ngram_index import NgramIndex
from webinstruct.udfs.decontam import embed_items_map


class Bench:
    """The registered benchmarks as the tiers need them, built lazily on the driver."""

    def __init__(self, spark, cfg: Config, lake):
        self.spark, self.cfg, self.lake = spark, cfg, lake
        try:
            self.items = registry.load_items(lake)
        except BenchmarkRegistryError as exc:
            raise DecontamError(str(exc)) from None
        self.fingerprint = registry.fingerprint(self.items)
        self.keys = CheckKeys(self.fingerprint, cfg)
        self._index = self._matrix = None

    def key(self, level: str, tier: int) -> str:
        return self.keys.key(level, tier)

    def ngram_index(self):
        if self._index is None:
            items = (Item(b, "", i, q, "") for b, i, q in zip(self.items["benchmark"], self.items["item_id"], self.items["question"]))
            self._index = NgramIndex.build(items, self.cfg.decontam.ngram, self.cfg.decontam.min_content)
        return self._index

    def matrix(self):
        """Benchmark embeddings: computed once per (benchmark set, model) on the executors and
        stored in the lake (`_models/embeddings/`), read back by later runs."""
        if self._matrix is None:
            d = self.cfg.decontam
            model_path(d.embed_model)  # a missing package fails here, on the driver, with what to install
            rel = f"_models/embeddings/{short_hash(self.fingerprint, d.embed_model)}.npy"
            with tempfile.TemporaryDirectory() as tmp:
                local = str(Path(tmp) / "m.npy")
                if not self.lake.fetch_file(rel, local):
                    np.save(local, self._embed_items())
                    self.lake.put_file(local, rel)
                self._matrix = np.load(local)
        return self._matrix

    def _embed_items(self):
        d = self.cfg.decontam
        frame = self.items[["question"]].assign(row=range(len(self.items)))
        parts = parallelism(self.spark)
        df = self.spark.createDataFrame(frame[["row", "question"]]).repartition(parts)
        rows = df.mapInPandas(embed_items_map(d.embed_model, d.embed_device, d.embed_threads, d.embed_batch),
                              "row long, vector binary").collect()
        vectors = sorted((r["row"], r["vector"]) for r in rows)
        return np.stack([np.frombuffer(v, dtype=np.float32) for _, v in vectors])


def register_configured(spark, cfg: Config, lake) -> dict:
    """Register `decontam.benchmarks` (a no-op when the items are already there)."""
    sources = parse_benchmarks(cfg.decontam.benchmarks, "decontam.benchmarks")
    if not sources:
        return {}
    try:
        return registry.add(spark, cfg, lake, sources)
    except (BenchmarkRegistryError, BenchmarkSpecError) as exc:
        raise DecontamError(f"decontam.benchmarks: {exc}") from None
