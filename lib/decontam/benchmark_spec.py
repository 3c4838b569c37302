"""Benchmark sources named in config (`decontam.benchmarks`) or on the command line.

Two forms, checked before Spark starts so a typo names its key:

    {builtin = "gsm8k", dir = "data/benchmarks"}        one built-in layout (lib/decontam/benchmarks.py)
    {builtin = "all", dir = "data/benchmarks"}          every built-in layout found in dir
    {path = "gpqa.jsonl", name = "gpqa", question = "Question", answer = "Correct Answer",
     id = "Record ID", split = "test"}                  any JSONL / JSON / parquet file
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from webinstruct.lib.decontam.benchmarks import BUILTIN, BenchmarkError, Item, load_builtin, load_file

_BUILTIN_KEYS = {"builtin", "dir"}
_FILE_KEYS = {"path", "name", "question", "answer", "id", "split"}


class BenchmarkSpecError(ValueError):
    """A benchmark source is written wrong; the message names the key."""


@dataclass(frozen=True)
class BenchmarkSource:
    names: tuple[str, ...]  # built-in names, or the one name of a file source
    dir: str = ""
    path: str = ""
    question: str = ""
    answer: str = ""
    item_id: str = ""
    split: str = "test"
    skip_missing: bool = False  # builtin = "all": layouts absent from dir are skipped

    @property
    def builtin(self) -> bool:
        return not self.path

    def describe(self) -> str:
        return f"{self.path} as {self.names[0]}" if self.path else f"{', '.join(self.names)} from {self.dir}"


def parse_benchmarks(entries: list, key: str) -> list[BenchmarkSource]:
    out = []
    for i, entry in enumerate(entries):
        where = f"{key}[{i}]"
        if not isinstance(entry, dict):
            raise BenchmarkSpecError(f"{where}: expected a table like {{builtin = \"gsm8k\", dir = \"...\"}} or {{path = ..., name = ..., question = ...}}")
        if "builtin" in entry:
            unknown = set(entry) - _BUILTIN_KEYS
            if unknown:
                raise BenchmarkSpecError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; a builtin source takes {', '.join(sorted(_BUILTIN_KEYS))}")
            names = entry["builtin"]
            names = [names] if isinstance(names, str) else names
            if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
                raise BenchmarkSpecError(f"{where}.builtin: a name or a list of names")
            every = names == ["all"]
            names = list(BUILTIN) if every else names
            bad = [n for n in names if n not in BUILTIN]
            if bad:
                raise BenchmarkSpecError(f"{where}.builtin: unknown benchmark(s) {', '.join(bad)}; built in: all, {', '.join(BUILTIN)}")
            if not isinstance(entry.get("dir"), str) or not entry["dir"]:
                raise BenchmarkSpecError(f"{where}.dir: the folder holding the released files is required")
            out.append(BenchmarkSource(tuple(names), dir=entry["dir"], skip_missing=every))
            continue
        unknown = set(entry) - _FILE_KEYS
        if unknown:
            raise BenchmarkSpecError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: builtin, dir or {', '.join(sorted(_FILE_KEYS))}")
        for required in ("path", "name", "question"):
            if not isinstance(entry.get(required), str) or not entry[required]:
                raise BenchmarkSpecError(f"{where}.{required} is required (a string)")
        for optional in ("answer", "id", "split"):
            if optional in entry and not isinstance(entry[optional], str):
                raise BenchmarkSpecError(f"{where}.{optional} must be a string")
        if entry["name"] in BUILTIN:
            raise BenchmarkSpecError(f"{where}.name: {entry['name']!r} is a built-in benchmark's name; choose another")
        out.append(BenchmarkSource((entry["name"],), path=entry["path"], question=entry["question"],
                                   answer=entry.get("answer", ""), item_id=entry.get("id", ""), split=entry.get("split", "test")))
    return out


def load_source(source: BenchmarkSource) -> Iterator[tuple[str, Item]]:
    """(benchmark name, item) for every item of the source; BenchmarkError if a file is missing."""
    if source.builtin:
        folder = Path(source.dir)
        if not folder.is_dir():
            raise BenchmarkError(f"no benchmark folder {folder}")
        for name in source.names:
            try:
                items = list(load_builtin(name, folder))
            except BenchmarkError as exc:
                if source.skip_missing and str(exc).startswith(("no file", "no files match")):
                    continue
                raise
            for item in items:
                yield name, item
        return
    path = Path(source.path)
    if not path.is_file():
        raise BenchmarkError(f"no benchmark file {path}")
    for item in load_file(path, source.names[0], source.question, source.answer, source.item_id, source.split):
        yield source.names[0], item
