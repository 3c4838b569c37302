"""Spark Connect, as Databricks serverless and shared clusters offer it: a real Connect
server (`sbin/start-connect-server.sh`, master local[2]) whose Python workers have the
dependencies but not the project, and the CLI as a client with `--remote` or
SPARK_REMOTE. The client ships the package to the server itself (addArtifacts); the
tables equal a classic run of the same input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from deltalake import write_deltalake

from tests.cluster.compare import UNTIL, VOLATILE, assert_same_tables
from tests.cluster.harness import REPO, ConnectServer
from tests.conftest import shared
from webinstruct.jobs.core.config import load_config
from webinstruct.jobs.core.lake import open_lake
from webinstruct.jobs.core.tables import WEBINSTRUCT
from webinstruct.jobs.stages import export


@pytest.fixture(scope="module")
def server(work, python):
    s = ConnectServer(work / "connect", python, "local[2]")
    try:
        s.start()
        yield s
    finally:
        s.stop()


def client(*args: str, remote: str | None = None, env_remote: str | None = None, cwd: Path | None = None):
    """The CLI in this venv (a laptop with the project installed), talking to the server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_", "SPARK_"))}
    if env_remote:
        env["SPARK_REMOTE"] = env_remote
    cmd = [sys.executable, "-m", "webinstruct.jobs", *(["--remote", remote] if remote else []), *args]
    return subprocess.run(cmd, env=env, cwd=cwd or REPO, capture_output=True, text=True, timeout=900)


def test_the_pipeline_over_connect_equals_a_classic_run(spark, server, pipeline_config, reference, work):
    lake = work / "connect-lake"
    ran = client("--config", str(pipeline_config), "--lake", str(lake), "run", str(shared("warc", "real")), "--until", UNTIL,
                 remote=server.url)
    assert ran.returncode == 0, ran.stderr[-4000:]
    assert "decontam pages summary" in ran.stdout
    assert_same_tables(spark, lake, reference.local, [t for t in VOLATILE if t != "qa_extracted"])

    # SPARK_REMOTE instead of --remote; sql and tables
    listed = client("--lake", str(lake), "tables", env_remote=server.url)
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert "| documents " in listed.stdout and "| dedup " in listed.stdout
    query = "SELECT count(*) AS n, count(DISTINCT doc_id) AS ids FROM documents_dedup"
    got = client("--lake", str(lake), "sql", query, "--format", "json", env_remote=server.url)
    assert got.returncode == 0, got.stderr[-3000:]
    want = open_lake(spark, load_config(lake=str(reference.local))).read("dedup").where("is_keeper").count()
    assert json.loads(got.stdout) == [{"n": want, "ids": want}]


def _published(lake: Path) -> None:
    rows = [{f: None for f in WEBINSTRUCT.fieldNames()} | {"index": i, "qa_id": f"q{i}", "refiner": "m", "doc_id": f"d{i}",
                                                            "question": f"What is {i} + {i}?", "answer": f"{2 * i}",
                                                            "orig_question": f"{i}+{i}?", "orig_answer": str(2 * i),
                                                            "source": "example.org"} for i in range(7)]
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_schema

    write_deltalake(str(lake / "webinstruct"), pa.Table.from_pylist(rows, schema=to_arrow_schema(WEBINSTRUCT)))


def test_export_over_connect_writes_what_a_classic_export_writes(spark, server, work):
    connect_lake, classic_lake = work / "export-connect", work / "export-classic"
    for lake in (connect_lake, classic_lake):
        _published(lake)
    out_connect, out_classic = work / "out-connect", work / "out-classic"
    ran = client("--lake", str(connect_lake), "export", "--out", str(out_connect), "--messages", remote=server.url)
    assert ran.returncode == 0, ran.stderr[-3000:]
    cfg = load_config(lake=str(classic_lake))
    export.run(spark, cfg, open_lake(spark, cfg), str(out_classic), "parquet", True)
    shards = sorted((out_connect / "data").iterdir())
    assert [p.name for p in shards] == [p.name for p in sorted((out_classic / "data").iterdir())]
    for a, b in zip(shards, sorted((out_classic / "data").iterdir())):
        assert pq.read_table(a).equals(pq.read_table(b))
    assert json.loads((out_connect / "card.json").read_text())["rows"] == 7


def test_what_connect_cannot_run_says_so_before_any_work(server, pipeline_config, work):
    lake = work / "connect-gpu"
    ran = client("--config", str(pipeline_config), "--lake", str(lake), "--set", "llm.gpu=true", "extract", remote=server.url)
    assert ran.returncode == 2
    assert 'llm.engine = "openai"' in ran.stderr and "Spark Connect" in ran.stderr
    assert not lake.exists() or {p.name for p in lake.iterdir()} == {"_logs"}  # no table: only the run's log
