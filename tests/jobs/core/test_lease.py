"""One writer per lake and stage: the lease file, its heartbeat, a stale lease taken over,
and two real `webinstruct ingest` processes started at once on one lake."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from tests.conftest import REPO, shared
from webinstruct.jobs.core import lease
from webinstruct.jobs.core.config import load_config
from webinstruct.jobs.core.lake import open_lake
from webinstruct.jobs.core.lease import LeaseHeld, acquire, release


def test_a_second_writer_is_refused_with_the_owner_named(tmp_path):
    first = acquire(str(tmp_path), "ingest", ttl_s=60, wait_s=0)
    try:
        record = json.loads((tmp_path / "_leases" / "ingest.json").read_text())
        assert record["owner"].endswith(f":{os.getpid()}") and record["stage"] == "ingest"
        again = acquire(str(tmp_path), "ingest", ttl_s=60, wait_s=0)  # the same process re-enters
        assert again is first and first.count == 2
        release(again)
        other = acquire(str(tmp_path), "dedup", ttl_s=60, wait_s=0)  # another stage is another lease
        release(other)
        lease._held.clear()  # as seen from a second process
        with pytest.raises(LeaseHeld, match=r"stage ingest is being written by .*:\d+ .*lake.lease_wait_s"):
            acquire(str(tmp_path), "ingest", ttl_s=60, wait_s=0)
        lease._held[first.location] = first
    finally:
        release(first)
    assert not (tmp_path / "_leases" / "ingest.json").exists()


def test_a_waiting_writer_gets_the_lease_when_it_is_released(tmp_path):
    first = acquire(str(tmp_path), "extract", ttl_s=60, wait_s=0)
    lease._held.clear()
    threading.Timer(1.5, lambda: (lease._held.__setitem__(first.location, first), release(first))).start()
    started = time.monotonic()
    second = acquire(str(tmp_path), "extract", ttl_s=60, wait_s=30)
    assert time.monotonic() - started >= 1.0 and second.token != first.token
    release(second)


def test_a_stale_lease_is_taken_over(tmp_path):
    folder = tmp_path / "_leases"
    folder.mkdir()
    (folder / "dedup.json").write_text(json.dumps({"stage": "dedup", "token": "dead", "owner": "gone:1",
                                                   "started": "2026-01-01T00:00:00+00:00", "heartbeat": time.time() - 3600}))
    taken = acquire(str(tmp_path), "dedup", ttl_s=60, wait_s=0)
    assert json.loads((folder / "dedup.json").read_text())["token"] == taken.token
    assert any(p.name.startswith("dedup.json.stale-") for p in folder.iterdir())  # moved aside, not lost
    release(taken)


def test_the_lease_of_a_killed_process_on_this_host_is_taken_over_at_once(tmp_path):
    """A driver killed mid-stage cannot release its lease; a rerun on the same host sees
    its process is gone and does not wait out lake.lease_ttl_s. A live owner still holds."""
    folder = tmp_path / "_leases"
    folder.mkdir()
    host = socket.gethostname()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        for stage, pid in (("dedup", dead.pid), ("extract", alive.pid)):
            (folder / f"{stage}.json").write_text(json.dumps({"stage": stage, "token": "t", "owner": f"{host}:{pid}",
                                                              "started": "2026-12-01T00:00:00+00:00", "heartbeat": time.time()}))
        taken = acquire(str(tmp_path), "dedup", ttl_s=600, wait_s=0)
        assert json.loads((folder / "dedup.json").read_text())["token"] == taken.token
        release(taken)
        with pytest.raises(LeaseHeld, match=f"being written by {host}:{alive.pid}"):
            acquire(str(tmp_path), "extract", ttl_s=600, wait_s=0)
    finally:
        alive.kill()
        alive.wait()


def test_the_heartbeat_keeps_a_long_run_alive(tmp_path):
    held = acquire(str(tmp_path), "refine", ttl_s=10, wait_s=0)
    try:
        first = json.loads((tmp_path / "_leases" / "refine.json").read_text())["heartbeat"]
        time.sleep(4.5)  # ttl / 3 = 3.3 s between beats
        assert json.loads((tmp_path / "_leases" / "refine.json").read_text())["heartbeat"] > first
    finally:
        release(held)


def test_two_ingest_processes_on_one_lake_write_each_document_once(spark, tmp_path):
    """The reported race: two runs of the same archives on one lake. A run finding the lease
    held stops at once and names the holder; with lake.lease_wait_s two runs started
    together take turns, and no doc_id is written twice."""
    lake = tmp_path / "lake"
    archives = [str(shared("warc", "real", n)) for n in ("dolma_wget_sample-0000.warc.gz", "dolma_wget_sample-0001.warc.gz")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYSPARK_")}

    def ingest(*extra):
        cmd = [sys.executable, "-m", "webinstruct.jobs", "--lake", str(lake), "--set", "spark.master=local[1]",
               "--set", "spark.driver_memory=1g", *extra, "ingest", *archives]
        return subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    held = acquire(str(lake), "ingest", ttl_s=600, wait_s=0)  # a writer elsewhere holds the lake
    try:
        refused = ingest()
        out, err = refused.communicate(timeout=600)
        assert refused.returncode == 2, err[-2000:]
        assert f"ingest: lake {lake}: stage ingest is being written by" in err and f":{os.getpid()} " in err
        assert not (lake / "documents").exists()
    finally:
        release(held)

    procs = [ingest("--set", "lake.lease_wait_s=300") for _ in range(2)]
    results = [(p.wait(timeout=600), *p.communicate()) for p in procs]
    assert [r[0] for r in results] == [0, 0], [r[2][-2000:] for r in results]
    written = sorted(int(line.split("|")[2]) for r in results for line in r[1].splitlines() if "documents written (new)" in line)
    assert written[0] == 0 < written[1]  # the second found the archives done
    docs = open_lake(spark, load_config(lake=str(lake))).read("documents")
    assert docs.count() == docs.select("doc_id").distinct().count() == written[1]
