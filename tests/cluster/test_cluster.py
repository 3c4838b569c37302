"""The pipeline on a real standalone cluster: the same tables as local[2], a worker lost in
the middle of ingest, dedup and extract, a driver killed mid-stage, and LLM tasks
scheduled on (fake) GPUs while the CPU stages ask for none.

Every run is `spark-submit --py-files webinstruct.zip jobs/__main__.py ...` with drivers
and executors on a Python that has the dependencies but not the project.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from tests.cluster.compare import VOLATILE, assert_same_tables, ok, read
from tests.cluster.conftest import copy_lake
from tests.cluster.harness import active_tasks, kill_leftovers, wait_for
from tests.conftest import shared

GPU_CONF = {"spark.executor.resource.gpu.amount": 1, "spark.executor.cores": 1}


def test_the_cluster_writes_the_same_tables_as_local(spark, reference):
    assert_same_tables(spark, reference.cluster, reference.local, [t for t in VOLATILE if t != "qa_extracted"])
    docs = read(spark, reference.cluster, "documents")
    assert docs.count() > 500 and docs.select("doc_id").distinct().count() == docs.count()
    assert read(spark, reference.cluster, "dedup").count() == docs.count()
    print(f"\n[cluster] ingest -> recall -> dedup -> page decontamination of warc/real: 2 standalone workers "
          f"{reference.cluster_s:.0f} s, local[2] {reference.local_s:.0f} s (ratio {reference.cluster_s / reference.local_s:.2f})")


def _kill_worker_while(proc, ui: int, condition, cluster, victim: int, what: str) -> None:
    """Wait until the stage is running (`condition` and tasks active), then SIGKILL a worker."""
    wait_for(lambda: not proc.alive() or (condition() and active_tasks(ui) > 0), 300, what, every=0.2)
    assert proc.alive(), f"the run ended before {what}:\n{proc.log.read_text(errors='replace')[-3000:]}"
    cluster.kill_worker(victim)


def commits(lake: Path, table: str) -> int:
    log = lake / table / "_delta_log"
    return len(list(log.glob("*.json"))) if log.exists() else 0


def _finish_or_rerun(proc, submitter, master: str, args: list[str], lake: Path, table: str, before: int) -> str:
    """The disturbed run completes, or fails cleanly (no commit of its own reached the
    table) and a rerun completes."""
    proc.popen.wait(timeout=900)
    out = proc.log.read_text(errors="replace")
    if proc.popen.returncode != 0:
        assert commits(lake, table) == before or table == "qa_extracted", out[-3000:]
        out = ok(submitter.run(master, args))
    return out


@pytest.fixture
def restore_workers(cluster):
    yield
    for i, worker in cluster.workers.items():
        if not worker.alive():
            cluster.start_worker(i)


def test_a_worker_lost_during_ingest(spark, cluster, submitter, pipeline_config, reference, work, restore_workers):
    lake = work / "lost-ingest"
    args = ["--config", str(pipeline_config), "--lake", str(lake), "ingest", str(shared("warc", "real"))]
    proc, ui = submitter.start(cluster.url, args)
    _kill_worker_while(proc, ui, lambda: True, cluster, 0, "ingest tasks")
    _finish_or_rerun(proc, submitter, cluster.url, args, lake, "documents", 0)
    assert_same_tables(spark, lake, reference.cluster, ["documents", "warc_files"])


def test_a_worker_lost_during_dedup(spark, cluster, submitter, pipeline_config, reference, work, restore_workers):
    """Killed once dedup has materialised its first step: sketches, LSH candidates or the
    connected-components rounds (on 590 pages each round lasts about a second, too short a
    window to aim at reliably, so the kill lands somewhere in dedup's middle)."""
    lake = copy_lake(reference.cluster, work / "lost-dedup", ["documents", "warc_files", "models", "recall_scores", "domains"])
    args = ["--config", str(pipeline_config), "--lake", str(lake), "dedup"]
    proc, ui = submitter.start(cluster.url, args)
    under_way = lambda: list((lake / "_scratch" / "dedup").glob("*/*"))  # noqa: E731
    _kill_worker_while(proc, ui, under_way, cluster, 1, "dedup")
    _finish_or_rerun(proc, submitter, cluster.url, args, lake, "dedup", 0)
    assert_same_tables(spark, lake, reference.cluster, ["dedup"])


def test_a_driver_killed_mid_stage_then_a_rerun(spark, cluster, submitter, pipeline_config, reference, work):
    lake = copy_lake(reference.cluster, work / "lost-driver", ["documents", "warc_files", "models", "recall_scores", "domains"])
    args = ["--config", str(pipeline_config), "--lake", str(lake), "dedup"]
    proc, ui = submitter.start(cluster.url, args)
    # from the first materialised step (sketches) on: dedup's whole middle, not one round
    started = lambda: list((lake / "_scratch" / "dedup").glob("*/*"))  # noqa: E731
    wait_for(lambda: not proc.alive() or (started() and active_tasks(ui) > 0), 300, "dedup under way", every=0.2)
    assert proc.alive(), f"dedup ended before the driver could be killed:\n{proc.log.read_text(errors='replace')[-3000:]}"
    kill_leftovers([proc.pid])  # the driver JVM and its Python process, mid-stage
    assert not (lake / "dedup").exists()  # nothing committed
    ok(submitter.run(cluster.url, args))
    assert_same_tables(spark, lake, reference.cluster, ["dedup"])


EXTRACT = ["--set", "extract.input=documents", "--set", "extract.commit_docs=2", "--set", "llm.gpu=true", "--set", "llm.cpu_threads=1"]


@pytest.fixture(scope="module")
def extract_base(cluster, submitter, pipeline_config, work) -> Path:
    """The short real pages of one archive (at most 2,000 characters: a CPU engine reads
    them quickly), ingested on the cluster: what the two extract runs start from."""
    lake = work / "extract-base"
    ok(submitter.run(cluster.url, ["--config", str(pipeline_config), "--lake", str(lake), "--set", "ingest.max_chars=2000",
                                   "ingest", str(shared("warc", "real", "dolma_wget_sample-0001.warc.gz"))]))
    return lake


@pytest.fixture(scope="module")
def undisturbed_extract(cluster, submitter, pipeline_config, work, extract_base, offline_model):
    lake = copy_lake(extract_base, work / "extract-undisturbed", ["documents", "warc_files"])
    events = work / "events"
    events.mkdir(exist_ok=True)
    # the executors' home has no offline model (the driver's has): each machine prepares its own
    conf = {**GPU_CONF, "spark.eventLog.enabled": "true", "spark.eventLog.dir": f"file://{events}",
            "spark.eventLog.compress": "false", "spark.eventLog.rolling.enabled": "false",
            "spark.executorEnv.XDG_CACHE_HOME": str(work / "executor-cache")}
    ok(submitter.run(cluster.url, ["--config", str(pipeline_config), "--lake", str(lake), *EXTRACT, "extract"], conf))
    return lake, events


def test_a_worker_lost_during_extract_with_the_offline_llm(spark, cluster, submitter, pipeline_config, work, extract_base,
                                                           undisturbed_extract, restore_workers):
    """Every document answered once, by the same requests as an undisturbed run. (The text
    of a reply may differ: vLLM's numerics depend on what an engine computed before, and a
    rescheduled task meets a warm engine.)"""
    lake = copy_lake(extract_base, work / "extract-lost", ["documents", "warc_files"])
    args = ["--config", str(pipeline_config), "--lake", str(lake), *EXTRACT, "extract"]
    proc, ui = submitter.start(cluster.url, args, GPU_CONF)
    first_commit = lambda: (lake / "qa_extracted" / "_delta_log" / "00000000000000000000.json").exists()  # noqa: E731
    _kill_worker_while(proc, ui, first_commit, cluster, 0, "the second commit slice")
    _finish_or_rerun(proc, submitter, cluster.url, args, lake, "qa_extracted", 1)
    got, want = (read(spark, x, "qa_extracted") for x in (lake, undisturbed_extract[0]))
    requests = ["doc_id", "chunk", "chunks", "generation_id", "model", "prompt_version"]
    assert_df_equality(got.select(*requests).distinct(), want.select(*requests).distinct(), ignore_row_order=True,
                       ignore_nullable=True)
    assert got.select("qa_id").distinct().count() == got.count()  # no row twice
    assert got.groupBy("doc_id").agg(F.countDistinct("run_id").alias("runs")).where("runs > 1").count() == 0
    assert got.select("doc_id").distinct().count() == read(spark, lake, "documents").count() >= 5


def test_executors_prepare_the_offline_model_their_home_lacks(spark, work, undisturbed_extract):
    """The offline model was prepared only in the driver's home; executors whose home lacks
    it converted their own copy (once per machine) and extracted with it."""
    lake, _ = undisturbed_extract
    model = work / "executor-cache" / "webinstruct" / "models" / "SmolLM2-135M-Instruct"
    assert (model / "config.json").is_file() and (model / "tokenizer.json").is_file() and list(model.glob("*.safetensors"))
    assert read(spark, lake, "qa_extracted").where("status <> 'engine_error'").count() > 0


def test_a_relative_lake_on_a_cluster_is_refused_before_any_work(submitter, cluster):
    """Executors and delta-rs would resolve a relative root against different folders."""
    code, out, _ = submitter.run(cluster.url, ["--lake", "relative-lake", "tables"])
    assert code == 2 and "lake.root 'relative-lake' is a relative path" in out, out[-3000:]
    lake = submitter.root / "relative-lake"
    assert not lake.exists() or {p.name for p in lake.iterdir()} == {"_logs"}  # no table: only the run's log


def _events(folder: Path) -> list[dict]:
    (log,) = [p for p in folder.iterdir() if not p.name.endswith(".inprogress")]
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_llm_tasks_get_a_gpu_and_cpu_stages_ask_for_none(cluster, undisturbed_extract):
    """Stage-level scheduling rehearsed with fake GPUs: the LLM stage runs under a profile
    whose tasks need one GPU, every other stage under the default profile, and each LLM
    task started its engine with its GPU visible."""
    _, folder = undisturbed_extract
    events = _events(folder)
    profiles = {e["Resource Profile Id"]: e for e in events if e["Event"] == "SparkListenerResourceProfileAdded"}
    stages = [e["Stage Info"] for e in events if e["Event"] == "SparkListenerStageSubmitted"]

    def task_gpus(stage) -> float:
        requests = profiles[stage["Resource Profile Id"]]["Task Resource Requests"]
        return requests.get("gpu", {}).get("Amount", 0.0)

    llm = [s for s in stages if "mapInPandas" in s["Stage Name"] or task_gpus(s)]
    assert llm and all(task_gpus(s) == 1.0 for s in llm)
    assert all(task_gpus(s) == 0 for s in stages if s not in llm)
    lines = [line for f in (cluster.root).glob("worker-*/app-*/*/stderr") for line in f.read_text(errors="replace").splitlines()
             if "webinstruct.llm: task" in line and "GPU" in line]
    assert lines and all("CUDA_VISIBLE_DEVICES=" in line for line in lines)
    devices = {line.rsplit("CUDA_VISIBLE_DEVICES=", 1)[1].split()[0] for line in lines}
    assert devices <= {"0", "1"}

