"""Final answers: where a solution states its result, and when two results are the same.

Majority voting over sampled solutions (OpenMathInstruct-2) and checking a page's own
answer both need these two questions answered the same way everywhere. Grouping answers by
string splits `1/2`, `0.5` and `\\frac12` into three votes; an LLM judge is not
deterministic. Here extraction is by rules (boxed, "#### x", "the answer is x", a
multiple-choice letter, the last number), and equivalence is a normalised string match,
then HF's math-verify (sympy: fractions, decimals, LaTeX, sets, intervals, tuples, units
stripped) under a time limit per comparison.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
from math_verify import parse, verify

MAX_ANSWER_CHARS = 300  # an "answer" longer than this is not a final answer
BOX_COMMANDS = ("\\boxed", "\\fbox")
GSM = re.compile(r"####\s*([^\n]+)")
# Bounded repeats only: a solution is untrusted text (a page, a model's reply).
STATED = re.compile(
    r"(?i:final answer|the answer|answer)[ \t]{0,10}(?i:is|:|=)[ \t]{0,10}:?[ \t]{0,10}([^\n]{1,300}?)(?:\.\s|\.$|\n|$)")
CHOICE = re.compile(r"(?i:answer|option|choice)[ \t]{0,10}(?:(?i:is)|:)?[ \t]{0,10}\(?([A-E])\)?(?![A-Za-z])")
MAX_SOLUTION_CHARS = 50_000  # the final answer is at the end: longer solutions are read from their tail
NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+)?")
TEXT_WRAP = re.compile(r"\\(?:text|textbf|mathrm|mbox)\{([^{}]*)\}")
SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Extracted:
    answer: str | None
    method: str  # boxed | gsm8k | stated | choice | last_number | none


def boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} or \\fbox{...}, nested braces included."""
    best = None
    for command in BOX_COMMANDS:
        start = text.rfind(command + "{")
        if start > (best[0] if best else -1):
            best = (start, command)
    if best is None:
        return None
    i = best[0] + len(best[1]) + 1
    depth, j = 1, i
    while j < len(text) and depth:
        depth += (text[j] == "{") - (text[j] == "}")
        j += 1
    return text[i : j - 1].strip() if depth == 0 else None


def extract(solution: str | None) -> Extracted:
    """The solution's final answer and how it was found."""
    text = (solution or "").strip()[-MAX_SOLUTION_CHARS:]
    if not text:
        return Extracted(None, "none")
    found = boxed(text)
    if found:
        return Extracted(found[:MAX_ANSWER_CHARS], "boxed")
    match = GSM.search(text)
    if match:
        return Extracted(match.group(1).strip()[:MAX_ANSWER_CHARS], "gsm8k")
    matches = list(STATED.finditer(text))
    if matches:
        value = matches[-1].group(1).strip().strip("$ ")
        choice = re.fullmatch(r"\(?([A-E])\)?", value)  # capital letters only: "a" is a word
        if choice:
            return Extracted(choice.group(1), "choice")
        if value and len(value) <= MAX_ANSWER_CHARS:
            return Extracted(value, "stated")
    match = list(CHOICE.finditer(text))
    if match:
        return Extracted(match[-1].group(1).upper(), "choice")
    numbers = NUMBER.findall(text)
    if numbers:
        return Extracted(numbers[-1].replace(",", ""), "last_number")
    return Extracted(None, "none")


def normalise(answer: str) -> str:
    """A string form for the cheap comparison: no $, spaces, \\text{}, \\left/\\right,
    dfrac/tfrac, thousands commas or a trailing full stop."""
    s = answer.strip().strip("$").strip()
    s = TEXT_WRAP.sub(r"\1", s)
    s = s.replace("\\left", "").replace("\\right", "").replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = s.replace("\\!", "").replace("\\,", "").replace("\\;", "").replace("^\\circ", "").replace("^{\\circ}", "")
    s = SPACES.sub("", s).rstrip(".")
    if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", s):
        s = s.replace(",", "")
    return s.lower()


def _parsed(answer: str, timeout_s: int):
    text = answer if "$" in answer else f"${answer}$"
    return parse(text, parsing_timeout=timeout_s)


def math_readable(answer: str, timeout_s: int = 5) -> bool:
    """Whether math-verify reads the answer as mathematics at all (words alone it does not)."""
    try:
        return bool(_parsed(answer, timeout_s))
    except Exception:  # noqa: BLE001 - sympy can raise anything on odd input
        return False


def equivalent(a: str | None, b: str | None, timeout_s: int = 5) -> bool:
    """Same final answer: equal after normalisation, or equal for math-verify."""
    if a is None or b is None:
        return False
    na, nb = normalise(a), normalise(b)
    if not na or not nb:
        return False
    if na == nb:
        return True
    if re.fullmatch(r"[a-e]", na) or re.fullmatch(r"[a-e]", nb):  # choice letters: only the same letter
        return False
    try:
        pa, pb = _parsed(a, timeout_s), _parsed(b, timeout_s)
        if not pa or not pb:
            return False
        return bool(verify(pa, pb, timeout_seconds=timeout_s))
    except Exception:  # noqa: BLE001 - sympy can raise anything on odd input; not equal then
        return False


@dataclass(frozen=True)
class Vote:
    answer: str | None  # the group's first answer (its representative)
    votes: int
    agreement: float  # votes / answers with a parsed answer
    groups: list[tuple[str, int]]  # every group: representative, size; largest first
    unparsed: int
    members: tuple[int, ...] = ()  # positions (in the input) of the winning group's answers
    group_members: tuple[tuple[int, ...], ...] = ()  # positions of every group's answers, in `groups` order


def majority(answers: list[str | None], timeout_s: int = 5) -> Vote:
    """Answers grouped by equivalence (not by string); the largest group wins, a tie goes
    to the group seen first. Deterministic for a given order of answers."""
    groups: list[list[int]] = []  # positions; a group is represented by its first answer
    unparsed = 0
    for i, answer in enumerate(answers):
        if answer is None or not normalise(answer):
            unparsed += 1
            continue
        for group in groups:
            if equivalent(answers[group[0]], answer, timeout_s):
                group.append(i)
                break
        else:
            groups.append([i])
    parsed = len(answers) - unparsed
    ranked = sorted(enumerate(groups), key=lambda ig: (-len(ig[1]), ig[0]))
    summary = [(answers[g[0]], len(g)) for _, g in ranked]
    if not summary:
        return Vote(None, 0, 0.0, [], unparsed)
    top, votes = summary[0]
    return Vote(top, votes, votes / parsed, summary, unparsed, tuple(ranked[0][1]), tuple(tuple(g) for _, g in ranked))


class AnswerFileError(ValueError):
    """The input file or a named field cannot be read; the message says which."""


def reference_answer(reference: str | None) -> str | None:
    """A reference given as a whole solution (GSM8K's "... #### 72", MATH's boxed) gives its
    final answer; a short reference is the answer itself."""
    if reference is None:
        return None
    text = str(reference).strip()
    if boxed(text) is not None or GSM.search(text):
        return extract(text).answer
    return text or None


def read_rows(path: str, max_rows: int = 1_000_000) -> list[dict]:
    """Rows of a JSONL, JSON (a list) or parquet file, at most `max_rows`."""
    file = Path(path)
    if not file.is_file():
        raise AnswerFileError(f"--input {path}: no such file")
    if file.suffix == ".parquet":
        return pq.read_table(file).slice(0, max_rows).to_pylist()
    text = file.read_text(encoding="utf-8")
    try:
        if file.suffix == ".json":
            data = json.loads(text)
            if not isinstance(data, list):
                raise AnswerFileError(f"--input {path}: expected a JSON list of objects")
            return data[:max_rows]
        rows = []
        for line in text.splitlines():
            if line.strip():
                rows.append(json.loads(line))
            if len(rows) >= max_rows:
                break
        return rows
    except json.JSONDecodeError as exc:
        raise AnswerFileError(f"--input {path}: not JSON/JSONL ({exc})") from None


def check_rows(rows: list[dict], solution_field: str, reference_field: str | None, timeout_s: int = 5) -> list[dict]:
    """One result per row: extracted answer, how it was found, the reference, whether they match."""
    if rows and solution_field not in rows[0]:
        raise AnswerFileError(f"--solution-field {solution_field!r} is not a field of the input (fields: {', '.join(sorted(rows[0]))})")
    if rows and reference_field and reference_field not in rows[0]:
        raise AnswerFileError(f"--reference-field {reference_field!r} is not a field of the input (fields: {', '.join(sorted(rows[0]))})")
    out = []
    for i, row in enumerate(rows):
        found = extract(row.get(solution_field) if isinstance(row, dict) else None)
        ref = reference_answer(row.get(reference_field)) if reference_field and isinstance(row, dict) else None
        out.append({"row": i, "answer": found.answer, "method": found.method, "reference": ref,
                    "match": equivalent(found.answer, ref, timeout_s) if reference_field else None})
    return out
