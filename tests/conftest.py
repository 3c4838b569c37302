"""Shared fixtures: one Spark session per test run, and the real data in ../shared/data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("WEBINSTRUCT_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared(*parts: str) -> Path:
    """A path under ../shared/data; skips the calling test with a clear message if absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real test data not found at {path} (expected ../shared/data beside the repo)")
    return path


# The S3 tests talk to an S3 API on loopback (moto's server, tests/s3_server.py), which takes
# any key. Executors find S3 keys in their environment, as on a cluster; Spark's Python
# workers inherit it from when the session starts, so the keys are set before it does.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "webinstruct-test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "webinstruct-test")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def spark():
    from webinstruct.jobs.core.config import load_config
    from webinstruct.jobs.core.session import get_spark

    cfg = load_config(overrides=["spark.master=local[2]", "spark.shuffle_partitions=2", "spark.driver_memory=3g"])
    session = get_spark(cfg)
    yield session
    session.stop()


@pytest.fixture
def make_config(tmp_path):
    """Config with the lake in a temp folder, plus any `section.key=value` overrides."""
    from webinstruct.jobs.core.config import load_config

    def build(*overrides: str, lake: Path | None = None):
        return load_config(lake=str(lake or tmp_path / "lake"), overrides=list(overrides))

    return build


@pytest.fixture(scope="session")
def offline_model():
    """The packaged SmolLM2-135M-Instruct as a safetensors folder (converted once, cached)."""
    from webinstruct.lib.llm.offline import prepare

    return prepare()


@pytest.fixture(scope="session")
def demo_lake(tmp_path_factory, offline_model):
    """`webinstruct demo --report` as `make demo` runs it, once per test session: the
    installed command in its own process, stdout and stderr pipes (no terminal). Tests only
    read it (copy the lake folder to change it): {lake, work, report, out, err}."""
    root = tmp_path_factory.mktemp("demo")
    lake, work, report = root / "lake", root / "work", root / "report.html"
    env = {k: v for k, v in os.environ.items() if k != "SPARK_REMOTE"}
    done = subprocess.run([sys.executable, "-m", "webinstruct.jobs", "--lake", str(lake), "demo", "--workdir", str(work),
                           "--report", str(report)], capture_output=True, text=True, cwd=root, env=env, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return {"lake": lake, "work": work, "report": report, "out": done.stdout, "err": done.stderr}


def rdd_storage(spark) -> tuple[int, int]:
    """(cached RDDs, the bytes they hold in memory and on disk), from the block manager."""
    infos = spark.sparkContext._jsc.sc().getRDDStorageInfo()
    return len(infos), sum(i.memSize() + i.diskSize() for i in infos)


# The small Common Crawl the select, fetch and S3 tests share (tests/cc_mirror.py)
CRAWL, LATER = "CC-MAIN-2024-22", "CC-MAIN-2024-26"
SMALL = ["dolma_wget_sample-0001.warc.gz", "resiliparse_CC-MAIN-2020-34_warcfile.warc.gz"]
BIG = "webis_archive-query-log_serps_990.warc.gz"


@pytest.fixture(scope="session")
def mirror(tmp_path_factory):
    """Two crawls of real archives in Common Crawl's layout with its columnar index, served
    over HTTP on loopback: {root, rows (index rows per crawl), server}."""
    from tests.cc_mirror import RangeServer, build_mirror

    root = tmp_path_factory.mktemp("commoncrawl")
    rows = build_mirror(root, {CRAWL: [*SMALL, BIG], LATER: [SMALL[0]]})
    server = RangeServer(root)
    yield {"root": root, "rows": rows, "server": server}
    server.close()


def real_pages(page_type: str | None = None) -> list[dict]:
    """wceb2026 pages with their human-verified main text, shortest first."""
    import json

    folder = shared("pages", "wceb2026")
    rows = [json.loads(line) for line in open(folder / "labels.jsonl", encoding="utf-8")]
    rows = [r for r in rows if page_type is None or r["page_type"] == page_type]
    return sorted(rows, key=lambda r: (len(r["main_content"]), r["file_id"]))


def wceb_page(file_id: str) -> tuple[str, str]:
    """(html, url) of one wceb2026 page, decoded the way ingest decodes it."""
    import gzip

    from webinstruct.lib.ingest.charset import decode_html

    row = next(r for r in real_pages() if r["file_id"] == file_id)
    raw = gzip.decompress(shared("pages", "wceb2026", row["html"]).read_bytes())
    return decode_html(raw, None)[0], row["url"]


def crash_on_second_commit(monkeypatch, lake, table: str) -> None:
    """The lake's second append to `table` raises, as a lost executor would, after the
    first has committed; monkeypatch.undo() restores it."""
    real_append = type(lake).append
    calls = []

    def append(self, name, df, txn=None):
        if name == table:
            calls.append(txn)
            if len(calls) == 2:
                raise RuntimeError("executor lost (simulated)")
        return real_append(self, name, df, txn)

    monkeypatch.setattr(type(lake), "append", append)
