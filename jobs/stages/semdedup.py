"""Semdedup: each refined question's embedding (decontam.embed_model) -> `pair_embeddings`,
and the k-means centroids (Spark MLlib) -> `semdedup_centroids`.

Publishing (`decontam pairs`) assigns each pair about to be published to its nearest
centroid and, inside each cluster, keeps one pair per group of questions at cosine >=
`semdedup.threshold` whose final answers agree and whose numbers mostly do (or, without two
checkable answers, whose numbers and order signs are equal): a question reposted in other words on three forums is published once
(NeMo Curator's SemDeDup; MinHash only finds copies of the text).
Incremental: a question is embedded once per text and encoder; new questions join the
stored clusters, and k-means runs again with `--recluster` or when the embedded questions
have grown semdedup.refit_growth times.

    webinstruct semdedup [--recluster]
"""

from __future__ import annotations

from webinstruct.jobs.core import semdedup
from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.errors import MissingInput
from webinstruct.jobs.core.lake import Lake
from webinstruct.jobs.core.lease import writes
from webinstruct.jobs.core.runs import RunRecorder
from webinstruct.jobs.core.views import refined_pairs

SOURCE = "qa_refined"


@writes("semdedup")
def run(spark, cfg: Config, lake: Lake, recluster: bool = False) -> dict | None:
    """None when semdedup.enabled is off."""
    if not semdedup.enabled(cfg):
        return None
    if not lake.exists(SOURCE):
        raise MissingInput(f"no table {SOURCE!r} in lake {lake.root} (run refine first)")
    recorder = RunRecorder(lake, "semdedup", cfg, args={"model": cfg.decontam.embed_model, "recluster": recluster})
    counters = semdedup.embed_missing(spark, cfg, lake, refined_pairs(lake), recorder.run_id)
    counters.update(semdedup.fit(spark, cfg, lake, recorder.run_id, force=recluster))
    counters = dict(counters)
    recorder.finish("ok", counters)
    return counters


def summary_rows(counters: dict, lake: Lake | None = None) -> list[tuple[str, object]]:
    return [("questions embedded (new)", counters.get("semdedup_embedded", 0)),
            ("k-means clusters", counters.get("semdedup_clusters", 0)),
            ("clustered again now", "yes" if counters.get("semdedup_fitted") else "no (new questions join the stored clusters)"),
            ("rewordings are left out while publishing (decontam pairs)", "")]
