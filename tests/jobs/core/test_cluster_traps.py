"""What only a real cluster springs, caught before any work or with a clear error: a lake
root the executors resolve elsewhere, GPUs a reused Python worker cannot move to, and the
task slots asked for before dynamic allocation has registered any executor. (The offline
model prepared on each executor, and local archive paths on a cluster, are tested on the
real standalone cluster in tests/cluster.)"""

from __future__ import annotations

import os

import pytest

from webinstruct.jobs.core.config import load_config
from webinstruct.jobs.core.llm_stage import gpu_layout_problem
from webinstruct.jobs.core.session import lake_root_problem, task_slots
from webinstruct.udfs import llm as llm_udfs


def test_a_relative_lake_on_a_cluster_is_refused_and_a_local_folder_is_flagged():
    error, warning = lake_root_problem("lake", one_machine=False)
    assert "lake.root 'lake' is a relative path" in error and "s3://" in error and not warning
    error, warning = lake_root_problem("file://lake-x", one_machine=False)
    assert "relative path" in error
    error, warning = lake_root_problem("/mnt/shared/lake", one_machine=False)
    assert not error and "every node must mount it at the same path" in warning
    for root in ("s3://bucket/lake", "dbfs:/lake", "abfss://c@a.dfs.core.windows.net/lake"):
        assert lake_root_problem(root, one_machine=False) == ("", "")
    assert lake_root_problem("lake", one_machine=True) == ("", "")  # local[*]: one file system


def test_task_slots_under_dynamic_allocation_count_what_will_register():
    static = {"spark.executor.cores": "4"}
    assert task_slots(2, static) == 2  # the registered executors are all there is
    dynamic = {"spark.dynamicAllocation.enabled": "true", "spark.executor.cores": "4", "spark.dynamicAllocation.maxExecutors": "10"}
    assert task_slots(2, dynamic) == 40  # none registered yet: defaultParallelism says 2
    assert task_slots(64, dynamic) == 64
    unbounded = {"spark.dynamicAllocation.enabled": "true", "spark.sql.shuffle.partitions": "96"}
    assert task_slots(2, unbounded) == 96
    assert task_slots(2, {**dynamic, "spark.dynamicAllocation.maxExecutors": "2147483647"}) == 4096  # bounded
    assert task_slots(2, {**dynamic, "spark.default.parallelism": "8"}) == 2  # the user's own setting is kept


def test_executors_with_more_gpus_than_a_task_are_refused_with_worker_reuse(tmp_path):
    cfg = load_config(lake=str(tmp_path), overrides=["llm.gpu=true", "llm.gpus_per_task=1"])
    problem = gpu_layout_problem(cfg, {"spark.executor.resource.gpu.amount": "4"})
    assert "spark.executor.resource.gpu.amount = 4" in problem and "spark.python.worker.reuse = false" in problem
    assert gpu_layout_problem(cfg, {"spark.executor.resource.gpu.amount": "1"}) is None
    assert gpu_layout_problem(cfg, {"spark.executor.resource.gpu.amount": "4", "spark.python.worker.reuse": "false"}) is None
    cpu = load_config(lake=str(tmp_path))
    assert gpu_layout_problem(cpu, {"spark.executor.resource.gpu.amount": "4"}) is None


class _Gpu:
    def __init__(self, addresses):
        self.addresses = addresses


class _Task:
    """Stands in for Spark's TaskContext on a GPU executor (no GPU here)."""

    def __init__(self, addresses):
        self._addresses = addresses

    def resources(self):
        return {"gpu": _Gpu(self._addresses)}

    def stageId(self):
        return 3

    def partitionId(self):
        return 1

    def attemptNumber(self):
        return 0


def test_a_reused_worker_never_runs_a_task_on_gpus_its_engine_does_not_hold(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(llm_udfs, "_GPUS", {"engine": None, "ours": False})
    monkeypatch.setattr(llm_udfs.TaskContext, "get", staticmethod(lambda: _Task(["1"])))
    assert llm_udfs.use_task_gpus() == ["1"]
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "1"
    monkeypatch.setattr(llm_udfs.TaskContext, "get", staticmethod(lambda: _Task(["0"])))
    assert llm_udfs.use_task_gpus() == ["0"] and os.environ["CUDA_VISIBLE_DEVICES"] == "0"  # no engine yet: it follows
    llm_udfs._GPUS["engine"] = "0"  # an engine started on GPU 0 in this worker
    assert llm_udfs.use_task_gpus() == ["0"]
    monkeypatch.setattr(llm_udfs.TaskContext, "get", staticmethod(lambda: _Task(["1"])))
    with pytest.raises(llm_udfs.GpuPinned, match="runs on GPU\\(s\\) 0 but Spark gave task 3.1 GPU\\(s\\) 1"):
        llm_udfs.use_task_gpus()
