"""Select from Common Crawl's columnar index and fetch by byte range, against a small
Common Crawl built from the real archives (tests/cc_mirror.py): the index in Common
Crawl's schema and layout, the WARC files under crawl-data/, served over HTTP on loopback
by a server that honours Range, counts what it sends and can misbehave on request."""

from __future__ import annotations

import re

import pytest
from pyspark.sql import functions as F

from tests.conftest import CRAWL, LATER, SMALL
from webinstruct.jobs.core.lake import open_lake
from webinstruct.jobs.stages import fetch, ingest, select

FAST = ["fetch.backoff_s=0.01", "fetch.max_backoff_s=0.05", "fetch.timeout_s=2", "spark.shuffle_partitions=2"]
LINEAGE = ["doc_id", "url", "text", "title", "warc_path", "warc_offset", "warc_record_id", "fetch_time", "lang", "word_count",
           "host", "domain", "charset", "content_type", "text_hash"]


def _lake(spark, make_config, tmp_path, mirror, *extra):
    cfg = make_config(*FAST, f"fetch.base_url={mirror['server'].url}", *extra, lake=tmp_path / "lake")
    return cfg, open_lake(spark, cfg)


def _only_files(lake, names):
    """Keep the selection to the records of these archives (the tests that need few)."""
    lake.replace("selection", lake.read("selection").where(F.col("warc_filename").rlike("|".join(names))))


def _settled(counters) -> int:
    """Selected records this run settled for good (fetched, filtered, or the same page as another)."""
    return sum(counters.get(k, 0) for k in ("ok", "dropped", "duplicate"))


def _documents(lake, where="true"):
    return {r["doc_id"]: r.asDict() for r in lake.read("documents").where(where).select(*LINEAGE).collect()}


def test_fetched_documents_equal_whole_file_ingest(spark, make_config, tmp_path, mirror):
    """Every record of two archives selected from the index (read by Spark from a folder)
    and fetched by range: the same documents as ingesting the two files whole, from the
    same server."""
    server = mirror["server"]
    cfg, lake = _lake(spark, make_config, tmp_path, mirror)
    request = select.request_from(cfg, index=str(mirror["root"]), crawls=[CRAWL], mime=[])
    files = [r["warc_filename"] for r in mirror["rows"][CRAWL] if r["warc_filename"].endswith(tuple(SMALL))]
    picked = select.run(spark, cfg, lake, request)
    assert picked["records_matching"] == len(mirror["rows"][CRAWL]) == picked["records_selected"]
    _only_files(lake, SMALL)  # fetch what the two small archives hold; ingest them whole elsewhere
    counters = fetch.run(spark, cfg, lake)
    whole_cfg, whole = _lake(spark, make_config, tmp_path / "whole", mirror)
    ingest.run(spark, whole_cfg, whole, [server.url + name for name in sorted(set(files))])
    fetched, read_whole = _documents(lake), _documents(whole)
    assert fetched and fetched == read_whole
    rows = lake.read("fetches").collect()
    assert {r["status"] for r in rows} <= {"ok", "dropped", "duplicate"} and counters["ok"] == sum(r["status"] == "ok" for r in rows)
    assert {r["doc_id"] for r in rows if r["status"] == "ok"} == set(fetched)  # a page captured twice is one document
    assert lake.read("fetches").count() == len(files)  # one row per selected record
    assert {r["crawl"] for r in lake.read("documents").collect()} == {CRAWL}  # the index's crawl


def test_a_two_percent_sample_transfers_about_two_percent_of_the_bytes(spark, make_config, tmp_path, mirror, capsys):
    """Through the CLI: the index read over HTTP by pyarrow (column chunks by range), 2% of
    the records selected, and only their bytes fetched: counted at the server."""
    from webinstruct.jobs.cli import main

    server = mirror["server"]
    lake_dir = str(tmp_path / "lake")
    sets = [x for o in [*FAST, f"fetch.base_url={server.url}", "fetch.merge_gap=0"] for x in ("--set", o)]
    assert main(["--lake", lake_dir, *sets, "select", "--index", server.url, "--crawl", CRAWL, "--sample", "0.02", "--seed", "7"]) == 0
    shown = capsys.readouterr().out
    _, lake = _lake(spark, make_config, tmp_path, mirror)  # the same lake, read directly
    chosen = lake.read("selection").collect()
    total = len(mirror["rows"][CRAWL])
    assert 0.01 * total <= len(chosen) <= 0.04 * total
    touched = sum((mirror["root"] / name).stat().st_size for name in {r["warc_filename"] for r in chosen})
    selected = sum(r["warc_record_length"] for r in chosen)
    assert re.search(rf"\| records selected \(new\)\s+\| {len(chosen)}\s+\|", shown), shown
    assert f"{selected / 1e6:,.1f} MB" in shown and f"{touched / 1e6:,.1f} MB (fetch reads {selected / touched:.2%} of it)" in shown
    server.reset()
    assert main(["--lake", lake_dir, *sets, "fetch"]) == 0
    shown = capsys.readouterr().out
    archives = sum(p.stat().st_size for p in mirror["root"].rglob("*.warc.gz") if CRAWL in str(p))
    sent = server.warc_bytes()
    assert sent == selected  # merge_gap = 0: exactly the selected records
    assert sent / archives < 0.05  # a few percent of the archives' bytes, not the archives
    assert f"{sent / 1e6:,.2f} / {selected / 1e6:,.2f} MB" in shown
    settled = lake.read("fetches").groupBy("status").count().collect()
    assert sum(r["count"] for r in settled if r["status"] in ("ok", "dropped", "duplicate")) == len(chosen)


def test_a_domain_selection_reads_few_row_groups_and_matches_what_spark_selects(spark, make_config, tmp_path, mirror):
    """Over HTTP the index is read by row groups whose domain statistics can match (the
    index is sorted by URL, so a domain's rows are together); the selection is the same as
    Spark's reading of the same folder."""
    server = mirror["server"]
    domains = ["allenai.org", "commoncrawl.org", "live-radsport.ch"]
    by_http_cfg, by_http = _lake(spark, make_config, tmp_path / "http", mirror)
    server.reset()
    select.run(spark, by_http_cfg, by_http, select.request_from(by_http_cfg, index=server.url, crawls=[CRAWL], domains=domains))
    read = sum(n for rel, n in server.bytes.items() if rel.endswith(".parquet"))
    size = sum(p.stat().st_size for p in (mirror["root"] / "cc-index").rglob("*.parquet") if CRAWL in str(p))
    assert 0 < read < 0.35 * size
    by_spark_cfg, by_spark = _lake(spark, make_config, tmp_path / "spark", mirror)
    select.run(spark, by_spark_cfg, by_spark, select.request_from(by_spark_cfg, index=str(mirror["root"]), crawls=[CRAWL],
                                                                  domains=domains))
    cols = ["warc_filename", "warc_record_offset", "warc_record_length", "url", "domain", "crawl", "content_digest", "reason"]
    got, want = ({tuple(r) for r in lake.read("selection").select(*cols).collect()} for lake in (by_http, by_spark))
    expected = {r["url"] for r in mirror["rows"][CRAWL] if r["url_host_registered_domain"] in domains
                and r["content_mime_detected"] in ("text/html", "application/xhtml+xml")}
    assert got == want and {t[3] for t in got} == expected and {t[-1] for t in got} == {"domains"}


def test_busy_and_broken_servers_are_retried_and_counted(spark, make_config, tmp_path, mirror):
    """503s, bodies cut short and a wrong Content-Range are tried again (with backoff) and
    counted; every record still ends fetched once."""
    server = mirror["server"]
    cfg, lake = _lake(spark, make_config, tmp_path, mirror, "fetch.merge_gap=0", "fetch.concurrency=2")
    select.run(spark, cfg, lake, select.request_from(cfg, index=str(mirror["root"]), crawls=[CRAWL], domains=["allenai.org",
                                                                                                             "commoncrawl.org"]))
    wanted = lake.count("selection")
    server.reset()
    server.faults.update({"503": 3, "short": 2, "bad_range": 2})
    counters = fetch.run(spark, cfg, lake)
    assert server.injected == {"503": 3, "short": 2, "bad_range": 2}
    assert counters["error_http_503"] == 3 and counters["error_short_read"] == 2 and counters["error_bad_content_range"] == 2
    assert counters["retries"] == 7 and counters["requests"] == counters["spans"] + 7
    assert _settled(counters) == wanted and "failed" not in counters


def test_unreadable_ranges_are_error_rows_and_the_next_run_retries_them(spark, make_config, tmp_path, mirror):
    """A missing file and a range that holds no record: `failed` rows with the reason, no
    document from them, no crash; the next run tries them again."""
    cfg, lake = _lake(spark, make_config, tmp_path, mirror, "fetch.attempts=2")
    select.run(spark, cfg, lake, select.request_from(cfg, index=str(mirror["root"]), crawls=[CRAWL], domains=["allenai.org"]))
    rows = lake.read("selection")
    one = rows.orderBy("warc_record_offset").limit(1).withColumn("content_digest", F.lit(None).cast("string"))
    broken = (one.withColumn("warc_filename", F.lit("crawl-data/missing.warc.gz")).withColumn("url", F.lit("https://a.example/1"))
              .unionByName(one.withColumn("warc_record_offset", F.col("warc_record_offset") + 7)
                           .withColumn("url", F.lit("https://a.example/2"))))
    lake.append("selection", broken)
    counters = fetch.run(spark, cfg, lake)
    failed = {(r["warc_filename"], r["warc_record_offset"]): r["reason"] for r in lake.read("fetches").where("status = 'failed'").collect()}
    assert len(failed) == 2 and counters["failed"] == 2
    assert any(reason.startswith("http_404") for reason in failed.values())
    assert any(reason.startswith("unparseable") for reason in failed.values())
    docs = lake.read("documents").collect()
    assert {(d["warc_path"].rsplit("/", 1)[-1], d["warc_offset"]) for d in docs}.isdisjoint(
        {(name.rsplit("/", 1)[-1], offset) for name, offset in failed})
    again = fetch.run(spark, cfg, lake)
    assert again.get("records_fetch") == 2 and again["failed"] == 2  # only the failed ones are asked for again


def test_a_killed_run_resumes_without_fetching_a_committed_record_again(spark, make_config, tmp_path, mirror, monkeypatch):
    server = mirror["server"]
    cfg, lake = _lake(spark, make_config, tmp_path, mirror, "fetch.merge_gap=0", "fetch.commit_records=10")
    select.run(spark, cfg, lake, select.request_from(cfg, index=str(mirror["root"]), crawls=[CRAWL]))
    _only_files(lake, SMALL)
    wanted = lake.count("selection")
    server.reset()
    real_append, slices = type(lake).append, []

    def append(self, name, df, txn=None):  # the second slice's commit fails, as a lost driver would
        if name == "fetches" and txn and txn[0].startswith("webinstruct.fetch.records."):
            slices.append(txn)
            if len(slices) == 2:
                raise RuntimeError("executor lost (simulated)")
        return real_append(self, name, df, txn)

    monkeypatch.setattr(type(lake), "append", append)
    with pytest.raises(RuntimeError, match="executor lost"):
        fetch.run(spark, cfg, lake)
    monkeypatch.undo()
    first = {(r["warc_filename"], r["warc_record_offset"]) for r in lake.read("fetches").where("span_start IS NOT NULL").collect()}
    assert 0 < len(first) < wanted
    asked_before = sum(server.ranges_by_file().values(), [])
    counters = fetch.run(spark, cfg, lake)
    assert counters["records_stored"] > 0  # the second slice's documents committed before the crash: not fetched again
    asked = server.ranges_by_file()
    for name, offset in first:  # settled before the crash: requested once, by the first run only
        assert sum(1 for start, _ in asked[name] if start == offset) == 1
    assert len(sum(asked.values(), [])) - len(asked_before) == counters["spans"]
    settled = lake.read("fetches").groupBy("warc_filename", "warc_record_offset").count().collect()
    assert len(settled) == wanted and all(r["count"] == 1 for r in settled)
    assert lake.read("documents").groupBy("doc_id").count().where("count > 1").count() == 0


def test_two_crawls_with_the_same_url_and_digest_fetch_it_once(spark, make_config, tmp_path, mirror):
    """The later crawl re-captured one archive's pages unchanged: its records are
    `duplicate`, not fetched; a new selection of the same pages later fetches nothing."""
    server = mirror["server"]
    cfg, lake = _lake(spark, make_config, tmp_path, mirror, "fetch.merge_gap=0")
    request = select.request_from(cfg, index=str(mirror["root"]), crawls=[CRAWL, LATER])
    select.run(spark, cfg, lake, request)
    _only_files(lake, SMALL[:1])
    sel = lake.read("selection")
    later = sel.where(F.col("crawl") == LATER).count()
    assert later == sel.where(F.col("crawl") == CRAWL).count() > 0
    server.reset()
    counters = fetch.run(spark, cfg, lake)
    rows = lake.read("fetches").collect()
    assert sorted(r["status"] for r in rows if r["crawl"] == LATER) == ["duplicate"] * later
    assert counters["records_duplicate"] == counters["duplicate"] == sum(r["status"] == "duplicate" for r in rows) >= later
    assert not [rel for rel in server.bytes if LATER in rel]  # nothing read from the later crawl's copy
    dup = lake.read("fetches").where(f"status = 'duplicate' AND crawl = '{LATER}'").first()
    assert dup["reason"].startswith(f"same URL and content digest as crawl-data/{CRAWL}/")
    assert fetch.run(spark, cfg, lake).get("records_fetch", 0) == 0  # a rerun fetches nothing


def test_select_refuses_what_it_cannot_do_and_names_it(spark, make_config, tmp_path, mirror):
    from webinstruct.jobs.core.errors import SelectError

    cfg, lake = _lake(spark, make_config, tmp_path, mirror)
    with pytest.raises(SelectError, match="at least one crawl"):
        select.run(spark, cfg, lake, select.request_from(cfg, index=str(mirror["root"])))
    with pytest.raises(SelectError, match="no index listing for crawl CC-MAIN-1999-01 at http"):
        select.run(spark, cfg, lake, select.request_from(cfg, index=mirror["server"].url, crawls=["CC-MAIN-1999-01"]))
    with pytest.raises(SelectError, match="no table 'domain_verdicts'"):
        select.run(spark, cfg, lake, select.request_from(cfg, index=str(mirror["root"]), crawls=[CRAWL], accepted_round=1))
    assert not lake.exists("selection")


def test_domain_expansion_brings_an_accepted_domains_unseen_pages_into_round_two(spark, make_config, tmp_path, mirror):
    """MAmmoTH2's loop: a domain the round-1 judge accepted (here a verdict written by hand,
    as a curator would) has one page in the lake and more in the crawl's index; `recall
    run` with recall.expand_crawls selects them, fetches them, scores them, and round 2
    trains on them and scores them."""
    import datetime as dt

    from tests.jobs.stages.test_recall import seed_overrides
    from webinstruct.jobs import pipeline
    from webinstruct.jobs.core.figures import EXPANSION_ROW, funnel
    from webinstruct.jobs.core.tables import DOMAIN_VERDICTS
    from webinstruct.jobs.stages import recall

    settings = ["recall.dim=32", "recall.bucket=20000", "recall.epoch=5", "recall.negatives_from_documents=20",
                "recall.min_docs=1000", f"recall.expand_crawls=['{CRAWL}']", "recall.expand_per_domain=50",
                f"select.index={mirror['root']}", "recall.threshold=0.5"]
    cfg, lake = _lake(spark, make_config, tmp_path, mirror, *settings, *seed_overrides())
    ingest.run(spark, cfg, lake, [mirror["server"].url + r for r in sorted({x["warc_filename"] for x in mirror["rows"][CRAWL]})
                                  if r.endswith(tuple(SMALL))])
    docs = lake.read("documents")
    whole = {r["doc_id"] for r in docs.where("domain = 'allenai.org'").collect()}
    assert len(whole) >= 2
    first = docs.where("domain = 'allenai.org'").orderBy("doc_id").limit(1)
    lake.replace("documents", docs.where("domain <> 'allenai.org'").unionByName(first))  # one page of it seen so far
    before = {r["doc_id"] for r in lake.read("documents").collect()}
    verdict = {f.name: None for f in DOMAIN_VERDICTS.fields} | {
        "domain": "allenai.org", "round": 1, "status": "ok", "educational": True, "reason": "curated", "samples": 0,
        "model": "curator", "prompt_version": "manual", "run_id": "99999999T999999Z-curator", "judged_at": dt.datetime.now(dt.timezone.utc)}
    lake.append("domain_verdicts", spark.createDataFrame([verdict], DOMAIN_VERDICTS))
    counters = recall.run(spark, cfg, lake, expand=pipeline.expand_domains)
    allenai = {r["doc_id"] for r in lake.read("documents").where("domain = 'allenai.org'").collect()}
    brought = allenai - before
    assert allenai == whole and len(brought) == len(whole) - 1 == counters["expand_documents_written"]
    chosen = lake.read("selection").collect()
    assert {r["domain"] for r in chosen} == {"allenai.org"} and {(r["reason"], r["round"]) for r in chosen} == {("accepted_domains", 1)}
    r2 = recall.rounds.current_model(lake, 2)
    scored = {r["doc_id"] for r in lake.read("recall_scores").where(f"round = 2 AND model_id = '{r2['model_id']}'").collect()}
    assert brought <= scored  # the new pages are scored in round 2 ...
    import json

    assert json.loads(r2["sources"])["positives"]["accepted domains"] == len(whole)  # ... which trained on them
    assert dict(funnel(lake))[EXPANSION_ROW] == len(brought)
