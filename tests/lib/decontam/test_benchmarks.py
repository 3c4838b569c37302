"""Benchmark loaders on the real released files in ../shared/data/benchmarks."""

from __future__ import annotations

import json

import pytest

from tests.conftest import shared
from webinstruct.lib.decontam.benchmarks import BUILTIN, BenchmarkError, load_builtin, load_file

# record counts from ../shared/data/benchmarks/SOURCES.md
COUNTS = {
    "gsm8k": 1319, "math": 5000, "math500": 500, "mmlu": 14042, "mmlu_stem": 3134, "mmlu_stem_qwen": 3018,
    "bbh": 6511, "theoremqa": 800, "arc_challenge": 1172, "mbpp": 974, "aime24": 30, "amc23": 40, "svamp": 1000,
    "aqua": 254, "numglue": 1042, "sat": 220, "sat_math": 32, "simuleq": 514, "deepmind_math": 1000,
    "olympiadbench": 675, "minerva_math": 272, "college_math": 2818, "gaokao2023en": 385,
}


@pytest.mark.parametrize("name", BUILTIN)
def test_every_builtin_loads_all_items_with_unique_ids(name):
    items = list(load_builtin(name, shared("benchmarks")))
    assert len(items) == COUNTS[name]
    assert len({i.item_id for i in items}) == len(items)
    assert all(i.question and i.benchmark == name for i in items)


def test_items_carry_what_a_model_sees_and_the_correct_answer():
    folder = shared("benchmarks")
    mmlu = next(load_builtin("mmlu", folder))
    assert mmlu.item_id == "abstract_algebra-0" and "(B) 4" in mmlu.question and mmlu.answer == "4"  # answer index 1
    gsm = next(load_builtin("gsm8k", folder))
    assert gsm.question.startswith("Janet") and gsm.answer.endswith("#### 18")
    bbh = {i.item_id: i for i in load_builtin("bbh", folder)}
    assert bbh["boolean_expressions-0"].question == "not ( True ) and ( True ) is" and bbh["boolean_expressions-0"].answer == "False"
    aqua = next(load_builtin("aqua", folder))  # a .json file that is JSON lines
    assert "A)5(√3 + 1)" in aqua.question and aqua.answer.endswith("A")
    math = next(load_builtin("math", folder))
    assert math.item_id == "test/algebra/1.json"


def test_any_file_loads_with_a_field_map(tmp_path):
    path = tmp_path / "gpqa.jsonl"
    rows = [{"id": "g1", "q": {"text": "Which gas?"}, "a": "Argon"}, {"id": "g2", "q": {"text": ""}, "a": "x"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    items = list(load_file(path, "gpqa", question="q.text", answer="a", item_id="id"))
    assert [(i.benchmark, i.item_id, i.question, i.answer) for i in items] == [("gpqa", "g1", "Which gas?", "Argon")]
    with pytest.raises(BenchmarkError, match="no field 'question'"):
        list(load_file(path, "gpqa", question="question"))
    with pytest.raises(BenchmarkError, match="unknown benchmark 'gpqa'"):
        list(load_builtin("gpqa", tmp_path))
