"""Object storage for real: archives listed and read from an S3 API, byte ranges fetched from
it, and a lake whose root is on it (Delta commits by delta-rs), against moto's S3 server on
loopback (tests/s3_server.py: a stand-in for S3 that speaks its protocol). Both spellings,
s3:// and s3a://, name the same objects everywhere, and one setting, lake.storage_options,
reaches delta-rs, pyarrow and Spark's S3A connector.

Spark's own S3 client is not exercised: hadoop-aws comes only from Maven, which this
machine does not reach; reading and writing table files through Spark on S3 is left to
the cluster's connector (EMRFS, S3A, Databricks)."""

from __future__ import annotations

import threading

import pytest
from deltalake import DeltaTable
from pyspark.sql import functions as F

from tests.conftest import CRAWL, SMALL, shared
from tests.s3_server import S3Server
from webinstruct.jobs.core import lease, storage
from webinstruct.jobs.core.config import load_config
from webinstruct.jobs.core.lake import open_lake
from webinstruct.jobs.core.runs import RunRecorder
from webinstruct.jobs.core.session import apply_s3
from webinstruct.jobs.core.tables import RUNS
from webinstruct.jobs.stages import fetch, ingest, select
from webinstruct.lib.object_store import S3Settings, delta_options

ARCHIVES = ["dolma_wget_sample-0001.warc.gz", "CC-MAIN-2024-22_whirlwind.warc.gz"]


@pytest.fixture(scope="module")
def s3():
    server = S3Server()
    yield server
    server.stop()


def _options(s3) -> str:
    return "lake.storage_options={" + ", ".join(f'{k} = "{v}"' for k, v in s3.options.items()) + "}"


def _config(s3, lake, *extra):
    return load_config(lake=str(lake), overrides=[_options(s3), "spark.shuffle_partitions=2", *extra])


def _docs(lake):
    return {r["doc_id"]: (r["url"], r["text"], r["warc_offset"]) for r in lake.read("documents").collect()}


def test_archives_are_listed_and_read_from_an_s3_api_in_both_spellings(spark, s3, tmp_path):
    bucket = s3.bucket("crawl")
    for name in ARCHIVES:
        s3.upload(bucket, f"segments/x/{name}", shared("warc", "real", name))
    local_cfg = load_config(lake=str(tmp_path / "local"), overrides=["spark.shuffle_partitions=2"])
    local = open_lake(spark, local_cfg)
    ingest.run(spark, local_cfg, local, [str(shared("warc", "real", n)) for n in ARCHIVES])
    want = _docs(local)
    for scheme in ("s3", "s3a"):
        cfg = _config(s3, tmp_path / scheme)
        lake = open_lake(spark, cfg)
        counters = ingest.run(spark, cfg, lake, [f"{scheme}://crawl/segments/x/"])
        assert counters["files_ok"] == 2 and _docs(lake) == want
        paths = {r["warc_path"] for r in lake.read("documents").collect()}
        assert paths == {f"{scheme}://crawl/segments/x/{ARCHIVES[0]}"}  # the whirlwind page is too short to keep


def test_fetch_reads_byte_ranges_from_an_s3_api(spark, s3, tmp_path, mirror):
    bucket = s3.bucket("commoncrawl")
    for name in SMALL:
        key = next(r["warc_filename"] for r in mirror["rows"][CRAWL] if r["warc_filename"].endswith(name))
        s3.upload(bucket, key, mirror["root"] / key)
    results = {}
    for base in ("s3://commoncrawl/", mirror["server"].url):
        cfg = _config(s3, tmp_path / base.split(":")[0], f"fetch.base_url={base}", "fetch.merge_gap=0")
        lake = open_lake(spark, cfg)
        select.run(spark, cfg, lake, select.request_from(cfg, index=str(mirror["root"]), crawls=[CRAWL]))
        lake.replace("selection", lake.read("selection").where(F.col("warc_filename").rlike("|".join(SMALL))))
        counters = fetch.run(spark, cfg, lake)
        asked = lake.read("fetches").where("status <> 'duplicate'").join(lake.read("selection"), ["warc_filename", "warc_record_offset"])
        assert counters["bytes"] == asked.agg(F.sum("warc_record_length")).first()[0]  # ranged GETs: the records' bytes only
        assert "failed" not in counters
        results[base] = _docs(lake)
    s3_docs, http_docs = results.values()
    assert s3_docs and s3_docs == http_docs


def test_a_lake_on_an_s3_api_commits_with_delta_rs_and_two_writers_lose_nothing(spark, s3, tmp_path):
    """Delta commits and reads by delta-rs, the lease, files beside the tables and listings,
    on S3; s3a:// and s3:// are the same lake. Each Delta version's commit file is written
    with a conditional PUT (If-None-Match), so of two writers committing the same version
    one gets 412 and tries the next: two writers' commits all land, none overwritten."""
    s3.bucket("lake")
    cfg = _config(s3, "s3a://lake/webinstruct")
    lake = open_lake(spark, cfg)
    assert lake.storage_options["conditional_put"] == "etag"
    taken = lease.acquire(lake.root, "ingest", ttl_s=60, wait_s=0)
    assert "webinstruct/_leases/ingest.json" in s3.keys("lake")
    lease.release(taken)
    recorder = RunRecorder(lake, "ingest", cfg)
    recorder.finish("ok", {"kept": 3})

    def write(worker: int):
        for i in range(5):
            row = {"run_id": f"w{worker}-{i}", "stage": "test", "status": "ok", "started_at": None, "finished_at": None,
                   "config_hash": "", "args": "{}", "counters": {"i": i}}
            lake.upsert("runs", spark.createDataFrame([row], RUNS), keys=["run_id", "stage"])

    threads = [threading.Thread(target=write, args=(w,)) for w in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    same = open_lake(spark, _config(s3, "s3://lake/webinstruct"))  # the other spelling
    table = DeltaTable("s3://lake/webinstruct/runs", storage_options=delta_options(s3.options, "s3://lake")).to_pyarrow_table()
    ids = sorted(table.column("run_id").to_pylist())
    assert ids == sorted([recorder.run_id] + [f"w{w}-{i}" for w in range(2) for i in range(5)])
    assert same.tables() == ["runs"] and same.version("runs") == 10  # 11 commits, versions 0..10, none lost
    path = tmp_path / "model.bin"
    path.write_bytes(b"\x00" * 1000)
    uri = lake.put_file(str(path), "_models/recall/abc.bin")
    assert uri == "s3a://lake/webinstruct/_models/recall/abc.bin" and storage.exists("s3://lake/webinstruct/_models/recall/abc.bin")
    assert same.fetch_file("_models/recall/abc.bin", str(tmp_path / "back.bin")) and (tmp_path / "back.bin").read_bytes() == b"\x00" * 1000


def test_one_setting_reaches_delta_rs_pyarrow_and_spark(spark, s3):
    cfg = _config(s3, "s3://lake/x")
    settings = S3Settings.from_options(cfg.lake.storage_options)
    assert settings.pyarrow_kwargs() == {"endpoint_override": s3.endpoint.split("://")[1], "scheme": "http", "region": "us-east-1"}
    conf = apply_s3(spark, cfg)
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    assert conf["fs.s3a.endpoint"] == s3.endpoint == hadoop.get("fs.s3a.endpoint")
    assert hadoop.get("fs.s3a.path.style.access") == "true" and hadoop.get("fs.s3a.connection.ssl.enabled") == "false"
    assert delta_options(cfg.lake.storage_options, "s3a://lake/x")["AWS_ENDPOINT_URL"] == s3.endpoint
    assert "conditional_put" not in delta_options(cfg.lake.storage_options, "/local/lake")
    chosen = delta_options({**cfg.lake.storage_options, "AWS_S3_LOCKING_PROVIDER": "dynamodb"}, "s3://lake/x")
    assert "conditional_put" not in chosen  # a locking provider the user chose is left alone
    keyed = S3Settings.from_options({**cfg.lake.storage_options, "AWS_ACCESS_KEY_ID": "AKIA1", "AWS_SECRET_ACCESS_KEY": "s3cr3t"})
    assert keyed.pyarrow_kwargs()["secret_key"] == "s3cr3t"  # the driver's own clients may use a key the options hold ...
    assert "s3cr3t" not in repr(keyed) and not keyed.public().secret_key  # ... executors never get it
