"""`webinstruct gc` on a real lake: what a killed run leaves (its uncommitted batch folder,
its scratch) is reclaimed once older than the safety age; committed data and a run in
progress are left alone; Delta's removed files go after lake.vacuum_hours."""

from __future__ import annotations

import os
import time

import pytest

from tests.conftest import shared
from webinstruct.jobs.cli import main
from webinstruct.jobs.core import gc
from webinstruct.jobs.core.lake import DeltaRsLake, open_lake
from webinstruct.jobs.stages import ingest


def _age(path, hours: float) -> None:
    then = time.time() - hours * 3600
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.utime(os.path.join(root, name), (then, then))
    os.utime(path, (then, then))


def test_gc_reclaims_what_killed_runs_left_and_nothing_else(spark, make_config, tmp_path, monkeypatch, capsys):
    cfg = make_config()
    lake = open_lake(spark, cfg)
    archive = str(shared("warc", "real", "dolma_wget_sample-0001.warc.gz"))
    ingest.run(spark, cfg, lake, [archive])
    docs_before = lake.count("documents")

    def killed(*args, **kwargs):  # the driver dies between writing its files and committing them
        raise KeyboardInterrupt

    monkeypatch.setattr(DeltaRsLake, "_commit", killed)
    with pytest.raises(KeyboardInterrupt):
        ingest.run(spark, cfg, lake, [str(shared("warc", "real", "dolma_wget_sample-0000.warc.gz"))])
    monkeypatch.undo()
    batches = sorted((tmp_path / "lake" / "documents" / "data").iterdir())
    committed = {u.rsplit("/", 2)[-2] for u in lake._table("documents").file_uris()}
    orphan = next(b for b in batches if b.name not in committed)
    scratch = tmp_path / "lake" / "_scratch" / "extract" / "20260101T000000Z-dead"
    scratch.mkdir(parents=True)
    (scratch / "slice.parquet").write_bytes(b"x" * 1000)

    assert gc.collect(lake, cfg).items == []  # young: may belong to a run in progress
    _age(orphan, 48)
    _age(scratch, 48)
    report = gc.collect(lake, cfg, apply=False)
    assert {(i.kind, i.location.rsplit("/", 1)[-1]) for i in report.items} == {("uncommitted", orphan.name), ("scratch", scratch.name)}
    assert orphan.exists() and scratch.exists()  # a dry run removes nothing

    assert main(["--lake", str(tmp_path / "lake"), "gc"]) == 0
    out = capsys.readouterr().out
    assert "| uncommitted (removed) | 1 item(s)" in out and "| scratch (removed)     | 1 item(s)" in out
    assert not orphan.exists() and not scratch.exists()
    assert all((tmp_path / "lake" / "documents" / "data" / c).exists() for c in committed)
    assert lake.count("documents") == docs_before
    assert gc.collect(lake, cfg).items == []


def test_run_offers_gc_when_leftovers_exist(spark, make_config, tmp_path, capsys):
    cfg = make_config()
    lake = open_lake(spark, cfg)
    ingest.run(spark, cfg, lake, [str(shared("warc", "real", "dolma_wget_sample-0001.warc.gz"))])
    old = tmp_path / "lake" / "_scratch" / "dedup" / "20250101T000000Z-gone"
    old.mkdir(parents=True)
    (old / "edges-0").write_bytes(b"y" * 2_000_000)
    _age(old, 48)
    assert main(["--lake", str(tmp_path / "lake"), "run", "--until", "ingest"]) == 0
    assert "1 leftover file(s) or folder(s) of earlier runs (2.0 MB) can be reclaimed: webinstruct gc" in capsys.readouterr().out
