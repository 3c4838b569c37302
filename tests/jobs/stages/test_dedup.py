"""Dedup through Spark on real pages with planted near-duplicates, into Delta tables."""

from __future__ import annotations

import datetime as dt
import random
from itertools import combinations

import pytest

from tests.conftest import shared
from tests.planted import light_variant, load_pages, variant, vocabulary_of
from webinstruct.jobs.core.lake import open_lake
from webinstruct.jobs.core.tables import DOCUMENTS
from webinstruct.jobs.stages import dedup
from webinstruct.jobs.stages.dedup.components import connected_components
from webinstruct.lib.dedup.minhash import jaccard, shingle_set
from webinstruct.lib.ingest.archive import document_id, text_hash

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def doc_row(url: str, text: str, fetch: dt.datetime) -> dict:
    row = {f.name: None for f in DOCUMENTS.fields}
    row.update(url=url, text=text, fetch_time=fetch, text_hash=text_hash(text), word_count=len(text.split()))
    row["doc_id"] = document_id(url, row["text_hash"])
    return row


def write_documents(spark, lake, rows: list[dict], files: int = 2) -> None:
    df = spark.createDataFrame(rows, DOCUMENTS).repartition(files)
    lake.append("documents", df)


def run_dedup(spark, make_config, lake_dir, *overrides):
    cfg = make_config("dedup.input=documents", *overrides, lake=lake_dir)  # no recall here
    lake = open_lake(spark, cfg)
    return dedup.run(spark, cfg, lake), lake


def outcome(lake) -> dict[str, tuple]:
    rows = lake.read("dedup").collect()
    got = {r["doc_id"]: (r["cluster_id"], r["is_keeper"], r["reason"]) for r in rows}
    assert len(got) == len(rows)  # one row per document
    return got


@pytest.fixture(scope="module")
def planted():
    """60 real pages (distinct texts), each with edited copies of varied strength."""
    pages = load_pages(shared("pages", "wceb2026"))[:60]
    vocab = vocabulary_of(pages)
    rng = random.Random(2026)
    rows, family = [], {}
    for i, page in enumerate(pages):
        base = doc_row(page["url"], page["main_content"], T0 + dt.timedelta(days=i))
        rows.append(base)
        family[base["doc_id"]] = i
        for k in range(2):
            text = light_variant(page["main_content"], rng, vocab) if k == 0 else variant(page["main_content"], rng, vocab)
            copy = doc_row(f"{page['url']}?copy={k}", text, T0 + dt.timedelta(days=100 + i, hours=k))
            rows.append(copy)
            family[copy["doc_id"]] = i
    tags = {i: set(p["tags"] or []) for i, p in enumerate(pages)}
    return rows, family, tags


def test_planted_near_duplicates_end_up_in_one_cluster(spark, make_config, tmp_path, planted, capsys):
    rows, family, tags = planted
    lake_dir = tmp_path / "lake"
    cfg = make_config(lake=lake_dir)
    write_documents(spark, open_lake(spark, cfg), rows)
    counters, lake = run_dedup(spark, make_config, lake_dir)
    got = outcome(lake)
    assert len(got) == len(rows) == counters["documents_in"]

    sets = {r["doc_id"]: shingle_set(r["text"], 5) for r in rows}
    above, caught = 0, 0
    for a, b in combinations(sets, 2):
        if family[a] == family[b] and jaccard(sets[a], sets[b]) >= 0.8:
            above += 1
            caught += got[a][0] == got[b][0]
    recall = caught / above
    # Different pages on a shared topic (a common tag) must stay apart.
    bases = [r["doc_id"] for r in rows if "?copy=" not in r["url"]]
    topical = [(a, b) for a, b in combinations(bases, 2) if tags[family[a]] & tags[family[b]]]
    merged = sum(got[a][0] == got[b][0] for a, b in topical)
    with capsys.disabled():
        print(
            f"\n[dedup] planted pairs with Jaccard >= 0.8: {above}, same cluster: {caught} "
            f"(recall {recall:.3f}); same-topic page pairs: {len(topical)}, merged: {merged} "
            f"(false-merge rate {merged / max(1, len(topical)):.4f})"
        )
    assert above >= 40  # the check is not vacuous
    assert recall >= 0.95
    assert len(topical) >= 20 and merged == 0
    # Every cluster member that was dropped points at a kept document of the same family.
    keepers = {d for d, (_, keep, _) in got.items() if keep}
    for d, (cluster, keep, reason) in got.items():
        assert cluster in keepers
        assert family[cluster] == family[d]
        assert (reason == "unique") == keep
    # The earliest fetch wins: the original page, which was fetched before its copies.
    base_ids = set(bases)
    grouped = {c for d, (c, keep, _) in got.items() if not keep}
    assert grouped and grouped <= base_ids


def test_keepers_do_not_depend_on_partitioning(spark, make_config, tmp_path, planted):
    rows = planted[0][:90]
    results = []
    for n, mode in ((1, "parquet"), (2, "local"), (8, "local")):
        lake_dir = tmp_path / f"lake{n}"
        cfg = make_config(lake=lake_dir)
        shuffled = rows[:]
        random.Random(n).shuffle(shuffled)
        write_documents(spark, open_lake(spark, cfg), shuffled, files=n)
        spark.conf.set("spark.sql.shuffle.partitions", str(n))
        spark.conf.set("spark.sql.adaptive.enabled", str(n != 8).lower())  # no reliance on AQE
        try:
            _, lake = run_dedup(
                spark, make_config, lake_dir, f"dedup.checkpoint={mode}", f"dedup.batch_rows={7 * n}"
            )
        finally:
            spark.conf.set("spark.sql.shuffle.partitions", "2")
            spark.conf.set("spark.sql.adaptive.enabled", "true")
        results.append(outcome(lake))
    assert results[0] == results[1] == results[2]
    assert sum(not keep for _, keep, _ in results[0].values()) > 20


def test_incremental_equals_one_run_with_earlier_keepers_preferred(spark, make_config, tmp_path, planted):
    rows, family, _ = planted
    rng = random.Random(11)
    # A: 40 original pages. B: every edited copy, 20 more originals (with their copies,
    # so B has clusters of its own) and verbatim mirrors of A pages.
    a_rows = [r for r in rows if family[r["doc_id"]] < 40 and "?copy=" not in r["url"]]
    b_rows = [r for r in rows if r not in a_rows]
    # B also holds a verbatim copy of an A page under a new URL.
    kept_a = a_rows[0]
    for src in (kept_a,):
        b_rows.append(doc_row(src["url"] + "#mirror", src["text"], T0 + dt.timedelta(days=500)))
    rng.shuffle(b_rows)
    # A's documents are fetched earlier than B's, so a single run prefers A's keepers.
    assert max(r["fetch_time"] for r in a_rows) < min(r["fetch_time"] for r in b_rows)

    inc_dir, one_dir = tmp_path / "inc", tmp_path / "one"
    inc_lake = open_lake(spark, make_config(lake=inc_dir))
    write_documents(spark, inc_lake, a_rows)
    first, _ = run_dedup(spark, make_config, inc_dir)
    before = outcome(inc_lake)
    write_documents(spark, inc_lake, b_rows)
    second, _ = run_dedup(spark, make_config, inc_dir)
    after = outcome(inc_lake)
    assert {d: after[d] for d in before} == before  # earlier rows, keepers included, unchanged
    assert second["documents_in"] == len(b_rows)

    # One run over A+B, A's documents ranked first through a recall score.
    one_lake = open_lake(spark, make_config(lake=one_dir))
    write_documents(spark, one_lake, a_rows + b_rows)
    a_ids = {r["doc_id"] for r in a_rows}
    scores = [{"doc_id": r["doc_id"], "round": 1, "score": 1.0 if r["doc_id"] in a_ids else 0.5, "model_id": "t"} for r in a_rows + b_rows]
    one_lake.upsert("recall_scores", spark.createDataFrame(scores, "doc_id string, round int, score double, model_id string"), ["doc_id"])
    run_dedup(spark, make_config, one_dir)
    single = outcome(one_lake)

    b_ids = {r["doc_id"] for r in b_rows}
    dropped_inc = {d for d in b_ids if not after[d][1]}
    dropped_one = {d for d in b_ids if not single[d][1]}
    assert dropped_inc == dropped_one
    assert second["dropped_against_stored"] >= 20
    mirror_kept = next(r["doc_id"] for r in b_rows if r["url"] == kept_a["url"] + "#mirror")
    assert after[mirror_kept] == (before[kept_a["doc_id"]][0], False, "exact")


def test_rerun_changes_nothing_and_params_are_guarded(spark, make_config, tmp_path, planted):
    lake_dir = tmp_path / "lake"
    cfg = make_config(lake=lake_dir)
    write_documents(spark, open_lake(spark, cfg), planted[0][:30])
    _, lake = run_dedup(spark, make_config, lake_dir)
    version = lake.version("dedup")
    again, _ = run_dedup(spark, make_config, lake_dir)
    assert again["documents_in"] == 0 and lake.version("dedup") == version
    write_documents(spark, lake, planted[0][30:33])
    with pytest.raises(dedup.DedupConfigMismatch, match="b16x8.*config gives.*p64"):
        run_dedup(spark, make_config, lake_dir, "dedup.num_perm=64")
    assert lake.version("dedup") == version


def test_twenty_thousand_identical_documents(spark, make_config, tmp_path):
    text = "The same templated page repeated across a whole site with only the address changing " * 3
    rows = [doc_row(f"https://mirror.example/{i}", text, T0 + dt.timedelta(seconds=i)) for i in range(20_000)]
    rows.append(doc_row("https://other.example/", "A different page about something else entirely " * 4, T0))
    lake_dir = tmp_path / "lake"
    write_documents(spark, open_lake(spark, make_config(lake=lake_dir)), rows, files=4)
    counters, lake = run_dedup(spark, make_config, lake_dir, "dedup.checkpoint=local")
    assert counters["largest_cluster"] == 20_000
    assert counters["exact_dups"] == 19_999 and counters["kept"] == 2
    keeper = lake.read("dedup").where("is_keeper AND cluster_size = 20000").collect()
    assert [r["doc_id"] for r in keeper] == [rows[0]["doc_id"]]  # earliest fetch


def test_big_bucket_links_to_smallest_id_not_pairwise(spark, make_config, tmp_path, planted):
    """300 near-identical pages (one word differs) share buckets far above the cap: they
    must form one cluster from a linear number of candidate pairs."""
    base = planted[0][0]["text"]
    words = base.split(" ")
    rows = []
    for i in range(300):
        edited = words[:]
        edited[(i * 7) % len(words)] = f"token{i}"
        rows.append(doc_row(f"https://near.example/{i}", " ".join(edited), T0 + dt.timedelta(minutes=i)))
    lake_dir = tmp_path / "lake"
    write_documents(spark, open_lake(spark, make_config(lake=lake_dir)), rows)
    counters, lake = run_dedup(spark, make_config, lake_dir, "dedup.bucket_cap=10", "dedup.checkpoint=local")
    assert counters["largest_cluster"] == 300 and counters["kept"] == 1
    assert counters["candidate_pairs"] <= 300 * counters["bands"]  # pairwise would be ~45,000
    assert counters["near_dups"] == 299


def test_recall_score_then_fetch_time_then_doc_id_choose_the_keeper(spark, make_config, tmp_path):
    text = "Identical text for the keeper order test with enough words to shingle properly " * 2
    rows = [doc_row(f"https://k.example/{i}", text, T0 + dt.timedelta(days=i)) for i in range(4)]
    rows[3]["fetch_time"] = rows[2]["fetch_time"]
    lake_dir = tmp_path / "lake"
    lake = open_lake(spark, make_config(lake=lake_dir))
    write_documents(spark, lake, rows)
    # Doc 2 and 3 share the best score and fetch time: the smaller doc_id wins.
    scores = [{"doc_id": r["doc_id"], "round": 2, "score": s, "model_id": "m"} for r, s in zip(rows, (0.2, 0.9, 0.95, 0.95))]
    scores.append({"doc_id": rows[0]["doc_id"], "round": 1, "score": 1.0, "model_id": "old"})  # earlier round ignored
    lake.upsert("recall_scores", spark.createDataFrame(scores, "doc_id string, round int, score double, model_id string"), ["doc_id", "round"])
    _, lake = run_dedup(spark, make_config, lake_dir)
    kept = [r["doc_id"] for r in lake.read("dedup").where("is_keeper").collect()]
    assert kept == [min(rows[2]["doc_id"], rows[3]["doc_id"])]
    assert {r["doc_id"] for r in lake.register_views() and lake.spark.table("documents_dedup").collect()} == set(kept)


def _union_find_components(edges):
    parent = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        if a == b:
            continue
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    nodes = {n for e in edges if e[0] != e[1] for n in e}
    return {n: find(n) for n in nodes}


def test_connected_components_match_union_find(spark):
    rng = random.Random(4)
    edges = [(rng.randrange(400), rng.randrange(400)) for _ in range(300)]
    edges += [(1, 3), (3, 4), (4, 5), (5, 2)]  # small-star leaves node 3 two parents here
    labels = rng.sample(range(10_000, 1_000_000), 600)  # a long chain with shuffled ids
    edges += list(zip(labels[:-1], labels[1:]))
    edges += [(10**12 + i, 10**12 + i + 1) for i in range(200)]  # and one in order
    expected = _union_find_components(edges)
    df = spark.createDataFrame(edges, "src long, dst long")
    got, rounds = connected_components(df, lambda d, name: d.localCheckpoint(eager=True))
    rows = got.collect()
    assert len(rows) == len(expected)  # each node once
    assert {r["node"]: r["component"] for r in rows} == expected
    assert rounds < 25


def test_a_page_written_twice_is_deduplicated_once(spark, make_config, tmp_path, planted):
    """Two writers that once raced could leave a doc_id twice in `documents`: dedup takes
    each id once instead of failing with a node-id collision."""
    rows, _, _ = planted
    lake_dir = tmp_path / "lake"
    lake = open_lake(spark, make_config(lake=lake_dir))
    write_documents(spark, lake, rows[:30])
    write_documents(spark, lake, rows[:30])
    counters, lake = run_dedup(spark, make_config, lake_dir)
    assert counters["documents_in"] == 30 and len(outcome(lake)) == 30


def test_a_stored_page_outside_the_input_still_catches_its_near_duplicate(spark, make_config, tmp_path, planted):
    """Stored texts come from `documents`, not from the input view: a stored page that is no
    longer in the input (no longer recalled, say) still matches a new near-duplicate."""
    rows, family, _ = planted
    lake_dir = tmp_path / "lake"
    lake = open_lake(spark, make_config(lake=lake_dir))
    base, light = next((rows[i], rows[i + 1]) for i in range(0, len(rows), 3)  # a page and its light edit
                       if jaccard(shingle_set(rows[i]["text"], 5), shingle_set(rows[i + 1]["text"], 5)) >= 0.8)
    assert family[base["doc_id"]] == family[light["doc_id"]]
    write_documents(spark, lake, [base])
    run_dedup(spark, make_config, lake_dir)
    write_documents(spark, lake, [light])
    lake.append("second_batch", spark.createDataFrame([light], DOCUMENTS))  # the input holds only the new page
    cfg = make_config("dedup.input=second_batch", lake=lake_dir)
    dedup.run(spark, cfg, open_lake(spark, cfg))
    got = outcome(open_lake(spark, cfg))
    assert got[light["doc_id"]] == (base["doc_id"], False, "near")
