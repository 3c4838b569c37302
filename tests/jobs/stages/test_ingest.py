"""Ingest on the real archives and the malformed ones, through Spark, into Delta tables."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from tests.conftest import shared
from webinstruct.jobs.core.lake import DeltaRsLake, open_lake
from webinstruct.jobs.stages import ingest

# Relaxed filters: every readable HTML page with any text is kept, so "kept" measures the
# reader and decoders, not the quality thresholds.
KEEP_ALL = ("ingest.min_words=1", "ingest.languages=[]")


def warcio_html_200(path) -> int:
    """Independent count: warcio's own framing, then status and content type from the block."""
    from warcio.archiveiterator import ArchiveIterator

    n = 0
    try:
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh, arc2warc=True, no_record_parse=True):
                if rec.rec_type != "response":
                    continue
                head = rec.raw_stream.read(65536).split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
                lines = head.split(b"\n")
                status = re.search(rb"(?<![\d.])(\d{3})(?![\d.])", lines[0])
                ctype = [l.split(b":", 1)[1] for l in lines[1:] if l.lower().startswith(b"content-type:")]
                mime = ctype[-1].split(b";")[0].strip().lower() if ctype else b""
                if status and status.group(1) == b"200" and mime in (b"text/html", b"application/xhtml+xml"):
                    n += 1
    except Exception:
        pass  # warcio gives up on whole-file gzip; those archives hold no HTML here
    return n


@pytest.fixture(scope="module")
def real_lake(spark, tmp_path_factory):
    from webinstruct.jobs.core.config import load_config

    root = tmp_path_factory.mktemp("real") / "lake"
    cfg = load_config(lake=str(root), overrides=list(KEEP_ALL))
    lake = open_lake(spark, cfg)
    counters = ingest.run(spark, cfg, lake, [str(shared("warc", "real"))])
    return cfg, lake, counters


def manifest(lake) -> dict[str, dict]:
    return {r["path"]: r.asDict() for r in lake.read("warc_files").collect()}


def test_real_archives_html_counts_match_warcio(real_lake):
    _, lake, counters = real_lake
    files = manifest(lake)
    on_disk = sorted(shared("warc", "real").iterdir())
    assert sorted(files) == [str(p) for p in on_disk]  # a status for every file
    license_file = str(shared("warc", "real", "npm-warc_LICENSE.txt"))
    assert files.pop(license_file)["status"] == "failed"
    archives = [p for p in on_disk if str(p) != license_file]
    for path in archives:
        row = files[str(path)]
        assert row["status"] == "ok", (path.name, row["error"])
        assert row["html"] == warcio_html_200(path), path.name
    assert counters["files_ok"] == len(archives)
    assert files[str(shared("warc", "real", "webis_archive-query-log_serps_990.warc.gz"))]["html"] == 990


def test_documents_have_lineage_and_unique_ids(real_lake):
    _, lake, _ = real_lake
    docs = lake.read("documents")
    n = docs.count()
    assert n > 500
    assert docs.select("doc_id").distinct().count() == n
    missing = docs.where(
        F.col("url").isNull() | F.col("warc_path").isNull() | F.col("warc_offset").isNull() | F.col("text").isNull()
    ).count()
    assert missing == 0
    # The same captures exist as .warc and .warc.gz (and ARC and WARC): one row each.
    cc = docs.where(F.col("crawl") == "CC-MAIN-2020-34").select("url").collect()
    assert len(cc) == len({r["url"] for r in cc}) == 16
    row = docs.where(F.col("url").contains("an.wikipedia.org/wiki/Escopete")).first()
    assert row["crawl"] == "CC-MAIN-2024-22" and row["domain"] == "wikipedia.org"


def test_non_utf8_pages_decode_to_readable_text(real_lake):
    _, lake, _ = real_lake
    cjk = F.col("charset").isin("gb18030", "cp949", "cp932", "euc_jp")
    serps = F.col("warc_path").endswith("webis_archive-query-log_serps_990.warc.gz")
    rows = lake.read("documents").where(cjk & serps & F.col("charset_source").isin("http", "meta")).collect()
    assert len(rows) >= 5
    for r in rows:
        assert "\ufffd" not in r["text"]
        assert re.search(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]", r["text"]), r["url"]


# (status, html 200 pages, documents kept) per malformed archive, with every filter relaxed.
EDGE_EXPECTED = {
    "aut/example.docs.warc.gz": ("ok", 0, 0),  # office documents, no HTML
    "aut/issue-493.warc": ("ok", 4, 3),  # revisits skipped
    "cc_wet_corrupt/appended_zip_fragment_unexpected_eof.wet.gz": ("partial", 0, 0),
    "cc_wet_corrupt/fragment1_asthma_incomplete_last.wet.gz": ("partial", 0, 0),
    "jwarc/cc.warc.gz": ("ok", 1, 1),
    "resiliparse/clipped.warc.gz": ("partial", 0, 0),  # its only member is cut
    "resiliparse/warcfile.warc.lz4": ("ok", 16, 16),
    "ukwa/IAH-20080430204825-00000-blackbook-truncated.arc.gz": ("ok", 2, 2),
    "ukwa/transfer_compression_gzip.warc.gz": ("ok", 1, 1),  # real gzip content-encoding
    "warcio/bad.arc": ("partial", 0, 0),
    "warcio/example-bad-non-chunked.warc.gz": ("ok", 1, 1),  # whole-file gzip
    "warcio/example-iana.org-chunked.warc": ("ok", 1, 1),
    "warcio/example-trunc.warc": ("partial", 1, 1),  # the response before the cut is kept
    "warcio/example-wrong-chunks.warc.gz": ("ok", 1, 1),
    "warcio/example.arc.gz": ("ok", 1, 1),
    "webarchive-commons/empty.gz": ("ok", 0, 0),
}


def test_malformed_archives_each_get_a_status_and_keep_good_records(spark, make_config):
    cfg = make_config(*KEEP_ALL)
    lake = open_lake(spark, cfg)
    edge = shared("warc", "edge")
    not_archive = edge / "warcio" / "standard-torture-validate-field.warc.test"
    missing = edge / "no-such-file.warc.gz"
    counters = ingest.run(spark, cfg, lake, [str(edge), str(not_archive), str(missing)])
    files = manifest(lake)
    on_disk = [p for p in edge.rglob("*") if p.is_file()]
    assert len(files) == len(on_disk) + 1 == counters["files_processed"]  # + the missing path
    for rel, (status, html, kept) in EDGE_EXPECTED.items():
        row = files[str(edge / rel)]
        assert (row["status"], row["html"], row["kept"]) == (status, html, kept), rel
        assert (row["error"] is None) == (status == "ok"), rel
    assert files[str(not_archive)]["status"] == "failed"
    assert "not a WARC or ARC archive" in files[str(not_archive)]["error"]
    assert files[str(missing)]["status"] == "failed" and "unreadable" in files[str(missing)]["error"]
    # Every kept document is in the table.
    assert lake.count("documents") == len({r["doc_id"] for r in lake.read("documents").collect()})
    assert sum(r["kept"] for r in files.values()) >= lake.count("documents") >= 30


def test_rerun_changes_nothing(spark, real_lake):
    cfg, lake, _ = real_lake
    before = {t: (lake.version(t), lake.count(t)) for t in ("documents", "warc_files")}
    counters = ingest.run(spark, cfg, lake, [str(shared("warc", "real"))])
    # Only the non-archive (failed) is tried again; it fails the same way.
    assert counters["files_skipped"] == counters["files_listed"] - 1 and counters["files_failed"] == 1
    assert {t: (lake.version(t), lake.count(t)) for t in ("documents", "warc_files")} == before


def test_crash_between_write_and_commit_then_rerun(spark, make_config, monkeypatch):
    cfg = make_config()
    lake = open_lake(spark, cfg)
    inputs = [str(shared("warc", "real", n)) for n in ("dolma_wget_sample-0000.warc.gz", "dolma_wget_sample-0001.warc.gz")]
    real_commit = DeltaRsLake._commit

    def crash(self, table, *args, **kwargs):
        if table == "documents":
            raise KeyboardInterrupt("killed before commit")
        return real_commit(self, table, *args, **kwargs)

    monkeypatch.setattr(DeltaRsLake, "_commit", crash)
    with pytest.raises(KeyboardInterrupt):
        ingest.run(spark, cfg, lake, inputs)
    assert not lake.exists("documents") and not lake.exists("warc_files")
    # Parquet files of the dead run are in the folder but not in the snapshot.
    orphans = Path(cfg.lake.root) / "documents" / "data"
    assert list(orphans.rglob("*.parquet"))
    monkeypatch.setattr(DeltaRsLake, "_commit", real_commit)
    counters = ingest.run(spark, cfg, lake, inputs)
    docs = lake.read("documents")
    # 36 pages pass the filters; two of them are the same page (same URL and text).
    assert counters["kept"] == 36
    assert docs.count() == counters["documents_written"] == docs.select("doc_id").distinct().count() == 34
    assert len(list(orphans.rglob("*.parquet"))) > len(lake.read("documents").inputFiles())


def test_documents_commit_is_skipped_when_its_transaction_landed(spark, make_config):
    """A commit retried after it actually landed (same run, same transaction id) adds nothing."""
    cfg = make_config()
    lake = open_lake(spark, cfg)
    df = spark.createDataFrame([("a", 1)], "k string, v int")
    first = lake.append("t", df, txn=("webinstruct.ingest.run-1", 0))
    again = lake.append("t", df, txn=("webinstruct.ingest.run-1", 0))
    assert again.skipped and again.version == first.version and lake.count("t") == 1


def test_default_filters_keep_english_pages_only(spark, make_config):
    cfg = make_config()
    lake = open_lake(spark, cfg)
    counters = ingest.run(spark, cfg, lake, [str(shared("warc", "real", "resiliparse_CC-MAIN-2020-34_warcfile.warc.gz"))])
    langs = Counter(r["lang"] for r in lake.read("documents").collect())
    assert set(langs) == {"en"}
    assert counters["drop_language"] > 0 and counters["kept"] == sum(langs.values())
