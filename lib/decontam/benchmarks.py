"""Benchmark test sets as uniform items (benchmark, split, item_id, question, answer), the
input of decontamination.

Each built-in loader knows one released file layout (the layouts in ../shared/data/
benchmarks: official GSM8K, MATH, BBH, TheoremQA and MBPP files, the MAmmoTH2 and
Qwen2.5-Math evaluation copies). Multiple-choice items carry their options in the question,
as a model would see them, and the correct option's text as the answer. Any other JSONL,
JSON-list or parquet file loads through `load_file` with a field map, so users can add
GPQA or MMLU-Pro themselves.

Item ids are stable: the dataset's own id where it has one, else the record's position in
its file (files are released once and not edited).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pyarrow.parquet as pq


@dataclass(frozen=True)
class Item:
    benchmark: str
    split: str
    item_id: str
    question: str
    answer: str


class BenchmarkError(ValueError):
    """A benchmark file cannot be read as asked; the message names the file and field."""


def read_records(path: Path) -> list[dict]:
    """JSONL, a JSON list, or parquet (by content, not by extension: MAmmoTH2's AQuA.json is JSONL)."""
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        data = json.loads(text)
    else:
        try:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise BenchmarkError(f"{path}: neither a JSON list nor JSON lines ({exc.msg}, line {exc.lineno})") from None
    if not all(isinstance(r, dict) for r in data):
        raise BenchmarkError(f"{path}: expected objects, one per item")
    return data


def _s(value) -> str:
    return "" if value is None else str(value).strip()


_LETTERS = "ABCDEFGHIJ"


def _choices(question: str, choices: list) -> str:
    return question.strip() + "\n" + "\n".join(f"({_LETTERS[i]}) {_s(c)}" for i, c in enumerate(choices))


def _mmlu(prefix_field: str) -> Callable[[dict, int], tuple[str, str, str]]:
    def read(r: dict, i: int):
        answer = r["answer"]
        index = int(answer) if not isinstance(answer, str) or answer.isdigit() else _LETTERS.index(answer.strip())
        return f"{_s(r.get(prefix_field)) or 'mmlu'}-{i}", _choices(r["question"], r["choices"]), _s(r["choices"][index])

    return read


# name -> (file(s) under the benchmarks folder, split, record -> (item_id, question, answer))
_BUILTIN: dict[str, tuple[str, str, Callable[[dict, int], tuple[str, str, str]]]] = {
    "gsm8k": ("gsm8k/test.jsonl", "test", lambda r, i: (str(i), r["question"], r["answer"])),
    "math": ("math/math_test_5000.jsonl", "test", lambda r, i: (r["unique_id"], r["problem"], r["solution"])),
    "math500": ("math/math500_test.jsonl", "test", lambda r, i: (r["unique_id"], r["problem"], r["solution"])),
    "mmlu": ("mmlu/mmlu_test_all57.jsonl", "test", _mmlu("subject")),
    "mmlu_stem": ("mammoth2_eval/mmlu/stem.json", "test", _mmlu("subject")),
    "mmlu_stem_qwen": ("qwen25math_eval/mmlu_stem/test.jsonl", "test", _mmlu("type")),
    "bbh": ("bbh/bbh/*.json", "test", lambda r, i: (f"{r['_task']}-{r['_index']}", r["input"], r["target"])),
    "theoremqa": ("theoremqa/theoremqa_test.json", "test", lambda r, i: (r["id"], r["Question"], r["Answer"])),
    "arc_challenge": ("mammoth2_eval/arc/challenge.json", "test", lambda r, i: (str(i), r["question"], r["answer"])),
    "mbpp": ("mbpp/mbpp.jsonl", "full", lambda r, i: (_s(r["task_id"]), r["text"], r["code"])),
    "aime24": ("qwen25math_eval/aime24/test.jsonl", "test", lambda r, i: (_s(r["id"]), r["problem"], r["solution"] or r["answer"])),
    "amc23": ("qwen25math_eval/amc23/test.jsonl", "test", lambda r, i: (_s(r["id"]), r.get("problem") or r["question"], r["answer"])),
    "svamp": ("mammoth2_eval/SVAMP/SVAMP.json", "test", lambda r, i: (r["ID"], f"{_s(r['Body'])} {_s(r['Question'])}", r["Answer"])),
    "aqua": ("mammoth2_eval/AQuA/AQuA.json", "test",
             lambda r, i: (str(i), r["question"].strip() + "\n" + "\n".join(r["options"]), f"{r['rationale']}\n{r['correct']}")),
    "numglue": ("mammoth2_eval/numglue/numglue.json", "test", lambda r, i: (str(i), r["question"], r["answer"])),
    "sat": ("mammoth2_eval/sat/sat.json", "test", lambda r, i: (str(i), r["question"], r["answer"])),
    "sat_math": ("qwen25math_eval/sat_math/test.jsonl", "test",
                 lambda r, i: (_s(r["id"]), f"{_s(r['question'])}\n{_s(r['options'])}", r["Answer"])),
    "simuleq": ("mammoth2_eval/simuleq/simuleq.json", "test", lambda r, i: (str(i), r["question"], r["answer"])),
    "deepmind_math": ("mammoth2_eval/deepmind/deepmind.json", "test", lambda r, i: (str(i), r["question"], r["answer"])),
    "olympiadbench": ("qwen25math_eval/olympiadbench/test.jsonl", "test",
                      lambda r, i: (_s(r["id"]), r["question"], "\n".join(map(_s, r["solution"])) if isinstance(r["solution"], list) else r["solution"])),
    "minerva_math": ("qwen25math_eval/minerva_math/test.jsonl", "test", lambda r, i: (_s(r["idx"]), r["problem"], r["solution"])),
    "college_math": ("qwen25math_eval/college_math/test.jsonl", "test",
                     lambda r, i: (f"{r['data_source']}/{r['question_number']}", r["question"], r["answer"])),
    "gaokao2023en": ("qwen25math_eval/gaokao2023en/test.jsonl", "test", lambda r, i: (str(i), r["question"], r["answer"])),
}

BUILTIN = tuple(_BUILTIN)


def _records(folder: Path, pattern: str) -> list[dict]:
    if "*" not in pattern:
        path = folder / pattern
        if not path.is_file():
            raise BenchmarkError(f"no file {path}")
        return read_records(path)
    files = sorted(folder.glob(pattern))
    if not files:
        raise BenchmarkError(f"no files match {folder / pattern}")
    out = []
    for path in files:  # BBH: one file per task, items under "examples"
        for index, example in enumerate(json.loads(path.read_text(encoding="utf-8"))["examples"]):
            out.append({**example, "_task": path.stem, "_index": index})
    return out


def load_builtin(name: str, folder: Path) -> Iterator[Item]:
    """Items of a built-in benchmark from the folder that holds the released files."""
    if name not in _BUILTIN:
        raise BenchmarkError(f"unknown benchmark {name!r}; built in: {', '.join(BUILTIN)} (or add a file with a field map)")
    pattern, split, read = _BUILTIN[name]
    for i, record in enumerate(_records(Path(folder), pattern)):
        try:
            item_id, question, answer = read(record, i)
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise BenchmarkError(f"{name}: record {i} of {folder / pattern} does not have the expected layout ({exc!r})") from None
        yield Item(name, split, _s(item_id), _s(question), _s(answer))


def field_value(record: dict, dotted: str):
    """record["a"]["b"] for "a.b"; None where a part is missing."""
    value = record
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def load_file(path: Path, benchmark: str, question: str, answer: str = "", item_id: str = "", split: str = "test") -> Iterator[Item]:
    """Any JSONL / JSON list / parquet file with a field map (dotted paths allowed)."""
    records = read_records(Path(path))
    if records and field_value(records[0], question) is None:
        raise BenchmarkError(f"{path}: no field {question!r} (question); fields: {', '.join(records[0])}")
    for i, r in enumerate(records):
        q = _s(field_value(r, question))
        if not q:
            continue
        yield Item(benchmark, split, _s(field_value(r, item_id)) if item_id else str(i), q, _s(field_value(r, answer)) if answer else "")


def read_qa(path: Path, question: str, answer: str) -> list[tuple[str, str]]:
    """(question, answer) of every record of a JSONL / JSON / parquet file, by field map
    (dotted paths); BenchmarkError names a missing file or question field."""
    path = Path(path)
    if not path.is_file():
        raise BenchmarkError(f"no file {path}")
    records = read_records(path)
    if records and field_value(records[0], question) is None:
        raise BenchmarkError(f"{path}: no field {question!r}; fields: {', '.join(records[0])}")
    return [(_s(field_value(r, question)), _s(field_value(r, answer))) for r in records]
