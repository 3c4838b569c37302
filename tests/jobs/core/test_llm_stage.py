"""LLM config wiring that needs no engine: GPU scheduling, engine specs, bad values."""

import pytest

from webinstruct.jobs.core.config import ConfigError, load_config
from webinstruct.jobs.core.llm_stage import LlmStageError, check_model, engine_spec, map_options, resource_profile


def test_gpu_config_builds_a_resource_profile_with_gpus_per_task():
    cfg = load_config(overrides=["llm.gpu=true", "llm.gpus_per_task=2", "llm.cpus_per_task=8"])
    profile = resource_profile(cfg)
    assert profile.taskResources["gpu"].amount == 2.0
    assert profile.taskResources["cpus"].amount == 8
    assert map_options(cfg)["profile"].taskResources["gpu"].amount == 2.0


def test_cpu_config_uses_the_default_profile():
    cfg = load_config()
    assert resource_profile(cfg) is None and map_options(cfg) == {}


def test_engine_spec_carries_config_and_never_the_key(monkeypatch):
    monkeypatch.setenv("MY_LLM_KEY", "sk-secret")
    cfg = load_config(overrides=[
        "llm.engine=openai", "llm.base_url=http://fleet:8000/v1", "llm.api_key_env=MY_LLM_KEY",
        "llm.concurrency=32", "llm.model=Qwen/Qwen2.5-7B-Instruct", "llm.tokenizer=/models/qwen",
    ])
    spec = engine_spec(cfg)
    assert (spec.kind, spec.base_url, spec.concurrency, spec.api_key_env) == ("openai", "http://fleet:8000/v1", 32, "MY_LLM_KEY")
    assert "sk-secret" not in repr(spec) and "sk-secret" not in cfg.digest()
    assert engine_spec(cfg, "other/model").model == "other/model"


def test_engine_args_reach_the_spec_as_json():
    cfg = load_config()  # conf/local.toml turns torch.compile off for CPU
    assert engine_spec(cfg).extra_args() == {"compilation_config": {"mode": 0}}


@pytest.mark.parametrize(
    "override,message",
    [
        ("llm.engine=tgi", "llm.engine must be one of vllm, openai"),
        ("llm.engine=openai", "llm.base_url is required"),
        ("llm.base_url=http://h/v1 ; llm.engine=openai", "llm.tokenizer is required"),
        ("llm.api_key_env=sk-abc.def", "NAME of an environment variable"),
        ("extract.max_tokens=4096", "extract.max_tokens must be between 1 and llm.max_model_len - 1"),
        ("refine.assign=random", "refine.assign must be one of hash, all"),
        ("refine.models=[1]", "refine.models and refine.tokenizers must be lists"),
        ("llm.gpu_memory_utilization=1.5", "llm.gpu_memory_utilization"),
    ],
)
def test_bad_llm_config_names_the_key(override, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        load_config(overrides=override.split(" ; "))


def test_missing_model_folders_fail_before_spark_work(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cfg = load_config(overrides=["llm.model=offline:NotPrepared"])
    assert engine_spec(cfg).model_path == str(tmp_path / "webinstruct" / "models" / "NotPrepared")
    with pytest.raises(LlmStageError, match=r"not prepared .* \(run `webinstruct models prepare`\)"):
        check_model(engine_spec(cfg))
    cfg = load_config(overrides=[f"llm.model={tmp_path}/elsewhere"])
    with pytest.raises(LlmStageError, match="llm.model: no model folder"):
        check_model(engine_spec(cfg))


def test_done_documents_retry_engine_errors_only_when_asked(spark, make_config):
    from webinstruct.jobs.core.lake import open_lake
    from webinstruct.jobs.core.tables import QA_EXTRACTED
    from webinstruct.jobs.stages.extract import TABLE, done_documents

    lake = open_lake(spark, make_config())
    rows = [
        ("a", "ok", "m", "v1", "r1"), ("a", "none", "m", "v1", "r1"),  # done
        ("b", "engine_error", "m", "v1", "r1"),  # failed: retried
        ("c", "ok", "m", "v1", "r1"), ("c", "engine_error", "m", "v1", "r1"),  # one chunk failed: retried
        ("d", "ok", "m", "v0", "r1"),  # older prompt version: not done for v1
        ("e", "ok", "other", "v1", "r1"),  # other model: not done for m
        ("f", "engine_error", "m", "v1", "r1"), ("f", "ok", "m", "v1", "r2"),  # retried and then done
    ]
    data = [{**{f: None for f in QA_EXTRACTED.fieldNames()}, "qa_id": f"{d}{i}", "doc_id": d, "status": s,
             "model": m, "prompt_version": v, "run_id": run} for i, (d, s, m, v, run) in enumerate(rows)]
    lake.append(TABLE, spark.createDataFrame(data, QA_EXTRACTED))
    done = {r["doc_id"] for r in done_documents(lake, "m", "v1", retry_errors=True).collect()}
    assert done == {"a", "f"}
    done = {r["doc_id"] for r in done_documents(lake, "m", "v1", retry_errors=False).collect()}
    assert done == {"a", "b", "c", "f"}
    # what refine reads: only the latest attempt of each page
    from webinstruct.jobs.core.views import current_pairs

    current = {(r["doc_id"], r["run_id"]) for r in current_pairs(lake).where("doc_id = 'f'").collect()}
    assert current == {("f", "r2")}


def test_refiner_assignment_by_hash_partitions_pairs_and_all_copies_them(spark):
    from webinstruct.jobs.stages.refine import assigned

    pairs = spark.createDataFrame([(f"qa{i}",) for i in range(200)], "qa_id string")
    models = ["m1", "m2", "m3"]
    parts = [{r["qa_id"] for r in assigned(pairs, models, i, "hash").collect()} for i in range(3)]
    assert sum(len(p) for p in parts) == 200 and set().union(*parts) == {f"qa{i}" for i in range(200)}
    assert all(40 <= len(p) <= 95 for p in parts)  # all refiners get a share
    assert all(assigned(pairs, models, i, "all").count() == 200 for i in range(3))


def test_second_refiner_uses_its_own_tokenizer():
    cfg = load_config(overrides=["llm.tokenizer=/models/a-tok", 'refine.models=["/models/a", "/models/b"]', "llm.model=/models/a"])
    assert engine_spec(cfg, "/models/a").tokenizer_path == "/models/a-tok"
    assert engine_spec(cfg, "/models/b").tokenizer_path == "/models/b"
    assert engine_spec(cfg, "/models/b", "/models/b-tok").tokenizer_path == "/models/b-tok"


def test_context_too_small_for_the_prompt_is_a_config_error_before_generation(offline_model):
    from webinstruct.lib.llm.prompts import load_prompt
    from webinstruct.lib.llm.tokenizer import load_tokenizer
    from webinstruct.lib.qa.parse import Limits
    from webinstruct.lib.qa.tasks import ExtractTask

    with pytest.raises(ValueError, match="leaves .* tokens for page text"):
        ExtractTask(load_prompt("extract"), "m", load_tokenizer(str(offline_model)), 1024, 700, 64, 4, Limits())


def test_openai_key_variable_missing_on_the_driver_stops_the_stage(monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    cfg = load_config(overrides=["llm.engine=openai", "llm.base_url=http://h/v1", "llm.tokenizer=/tmp",
                                 "llm.api_key_env=NO_SUCH_KEY_VAR", "llm.model=served"])
    with pytest.raises(LlmStageError, match=r"NO_SUCH_KEY_VAR is not set.*spark\.executorEnv\.NO_SUCH_KEY_VAR"):
        check_model(engine_spec(cfg))
    monkeypatch.setenv("NO_SUCH_KEY_VAR", "k")
    check_model(engine_spec(cfg))


def test_cpu_threads_reach_the_engine_process(monkeypatch):
    import os

    import torch

    from webinstruct.lib.llm.vllm_engine import set_cpu_threads

    before = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # what Spark gives a Python worker
    try:
        set_cpu_threads(2)
        assert os.environ["OMP_NUM_THREADS"] == "2" and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    cfg = load_config(overrides=["llm.cpu_threads=4"])
    assert engine_spec(cfg).cpu_threads == 4
