"""Each dedup phase on its own, on small frames whose answer is known: sketch, candidates,
verify, keepers (components has its own test against union-find in test_dedup.py)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from tests.conftest import real_pages
from webinstruct.jobs.core.config import load_config
from webinstruct.jobs.core.lake import open_lake
from webinstruct.jobs.core.scope import stage_scope
from webinstruct.jobs.core.tables import DEDUP_SKETCH
from webinstruct.jobs.stages.dedup.candidates import Stored, bucket_members, candidate_pairs, exact_edges, star_edges
from webinstruct.jobs.stages.dedup.keepers import dedup_rows
from webinstruct.jobs.stages.dedup.settings import lsh_params, materializer
from webinstruct.jobs.stages.dedup.sketch import sketch
from webinstruct.jobs.stages.dedup.verify import verified_edges
from webinstruct.lib.dedup.minhash import jaccard, shingle_set, text_set_bytes

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
NODE_SCHEMA = "doc_id string, node long, exact_hash string, shingles long, band_keys array<long>, " \
              "fetch_time timestamp, score double, shingle_set binary"


def nodes(spark, rows):
    """Sketch-like rows: (doc_id, node, exact_hash, band_keys[, fetch, score, set])."""
    full = [(r[0], r[1], r[2], 1 if r[3] else 0, r[3], *(r[4:] + (None,) * (3 - len(r[4:])))) for r in rows]
    return spark.createDataFrame(full, NODE_SCHEMA)


def identity(df, name):
    return df


def test_sketch_gives_one_node_per_document_and_the_shingle_sets(spark, tmp_path):
    cfg = load_config(lake=str(tmp_path / "lake"), overrides=["dedup.batch_rows=2"])
    texts = [p["main_content"] for p in real_pages("forum")[:5]]
    docs = spark.createDataFrame([(f"d{i}", T0, None, t) for i, t in enumerate(texts)] + [("copy", T0, None, texts[0])],
                                 "doc_id string, fetch_time timestamp, score double, text string")
    counters = Counter()
    with stage_scope(spark, open_lake(spark, cfg), "dedup"):
        out = sketch(spark, cfg, docs, lsh_params(cfg), materializer("parquet"), counters)
        rows = {r["doc_id"]: r for r in out.collect()}
        columns = out.columns
    assert counters["documents_in"] == 6 and len({r["node"] for r in rows.values()}) == 6
    assert rows["copy"]["exact_hash"] == rows["d0"]["exact_hash"] and rows["copy"]["band_keys"] == rows["d0"]["band_keys"]
    assert len(rows["d1"]["band_keys"]) == lsh_params(cfg).bands
    assert rows["d1"]["shingle_set"] == text_set_bytes(texts[1], 5)
    assert spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch", None) != "2"  # the session's setting is restored
    assert set(columns) == set(DEDUP_SKETCH.fieldNames()) | {"node"}
    assert not (tmp_path / "lake" / "_scratch").exists()  # the scope removed the sketches it staged


def test_exact_edges_point_to_the_smallest_node_including_stored_clusters(spark):
    sk = nodes(spark, [("a", 5, "h1", [1]), ("b", 3, "h1", [1]), ("c", 9, "h2", [2]), ("d", 7, "h3", [3])])
    stored = Stored(exact=spark.createDataFrame([("h2", 1, "old")], "exact_hash string, node long, cluster_id string"),
                    bands=None, nodes=None)
    got = {(r["src"], r["dst"]) for r in exact_edges(sk, stored).collect()}
    assert got == {(5, 3), (9, 1)}
    assert {(r["src"], r["dst"]) for r in exact_edges(sk, None).collect()} == {(5, 3)}


def test_buckets_give_all_pairs_up_to_the_cap_and_a_star_above_it(spark):
    # key 10: a bucket of four new documents; key 20: two stored documents and one new one
    sk = nodes(spark, [("a", 1, "ha", [10]), ("b", 2, "hb", [10]), ("c", 3, "hc", [10, 20]), ("d", 4, "hd", [10]),
                       ("e", 8, "hb", [10])])  # e: an exact copy of b, only its representative enters buckets
    stored_bands = spark.createDataFrame([(20, 0, "s1", "s1"), (20, 6, "s2", "s2")],
                                         "key long, node long, cluster_id string, doc_id string")
    stored = Stored(exact=None, bands=stored_bands, nodes=None)
    members = bucket_members(sk, stored)
    assert {r["doc_id"] for r in members.where("key = 10").collect()} == {"a", "b", "c", "d"}

    pairs = {(r["src"], r["dst"]) for r in candidate_pairs(members, 4, identity).collect()}
    assert pairs == {(1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4), (0, 3), (3, 6)}  # never stored with stored (0, 6)
    star = {(r["src"], r["dst"]) for r in candidate_pairs(members, 3, identity).collect()}
    assert star == {(2, 1), (3, 1), (4, 1), (0, 3), (3, 6)}  # key 10 exceeds the cap: linked to its smallest node
    assert {(r["src"], r["dst"]) for r in star_edges(members).collect()} == {(2, 1), (3, 1), (4, 1), (3, 0)}


def test_verify_keeps_pairs_at_or_above_the_threshold_and_reads_stored_texts(spark):
    pages = [p["main_content"] for p in real_pages("forum") if len(p["main_content"].split()) > 120][:2]
    base, other = pages
    words = base.split()
    near = " ".join(words[:-3] + ["changed", "words", "here"])
    assert jaccard(shingle_set(base, 5), shingle_set(near, 5)) >= 0.8 > jaccard(shingle_set(base, 5), shingle_set(other, 5))
    sk = nodes(spark, [("new1", 1, "h1", [1], T0, None, text_set_bytes(near, 5)),
                       ("new2", 2, "h2", [1], T0, None, text_set_bytes(other, 5))])
    stored_texts = spark.createDataFrame([("old", base)], "doc_id string, text string")
    candidates = spark.createDataFrame([(0, 1, "old", "new1"), (0, 2, "old", "new2"), (1, 2, "new1", "new2")],
                                       "src long, dst long, src_doc string, dst_doc string")
    got = {(r["src"], r["dst"]) for r in verified_edges(candidates, sk, stored_texts, 5, 0.8, identity).collect()}
    assert got == {(0, 1)}


def test_keepers_prefer_score_then_fetch_then_id_and_stored_keepers_stay(spark):
    sk = nodes(spark, [
        ("x", 1, "h1", [1], T0, 0.5), ("y", 2, "h1", [1], T0, 0.9), ("z", 3, "h3", [1], T0 - dt.timedelta(days=1), 0.9),
        ("p", 4, "h4", [2], T0, None), ("q", 5, "h5", [2], T0, None),  # joins a stored cluster
        ("alone", 6, "h6", [3], T0, None),
    ])
    components = spark.createDataFrame([(1, 1), (2, 1), (3, 1), (4, 0), (5, 0), (0, 0)], "node long, component long")
    stored_nodes = spark.createDataFrame([(0, "kept-before", 3, "h9", 0.1, T0 - dt.timedelta(days=30))],
                                         "node long, cluster_id string, old_size long, old_hash string, old_score double, "
                                         "old_fetch timestamp")
    rows = {r["doc_id"]: r for r in dedup_rows(sk, components, stored_nodes, "label", "run").collect()}
    assert rows["z"]["is_keeper"] and rows["z"]["reason"] == "unique" and rows["z"]["cluster_size"] == 3
    assert (rows["y"]["cluster_id"], rows["y"]["reason"]) == ("z", "near")
    assert not any(rows[d]["is_keeper"] for d in ("p", "q")) and {rows[d]["cluster_id"] for d in ("p", "q")} == {"kept-before"}
    assert rows["p"]["cluster_size"] == 5 and rows["p"]["_matched_stored"]
    assert rows["alone"]["is_keeper"] and rows["alone"]["cluster_id"] == "alone"

