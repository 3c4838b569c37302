"""Parse and validate LLM replies for extraction and refinement. Never trust a reply.

Structured output makes well-formed JSON likely, not certain: the reply can be cut off at
max_tokens, an OpenAI-compatible server may ignore the schema, a model may wrap JSON in a
code fence or add prose. Each reply ends as exactly one status:

  ok           parsed, and at least one pair passed validation
  none         parsed, and the page holds no pair (an empty list)
  rejected     parsed, but every pair failed validation (each keeps its reason)
  merged       (extract, per window) every pair of this reply was found better in
               another window of the same page
  truncated    the engine stopped at max_tokens: the JSON is incomplete
  parse_error  not JSON, or JSON of the wrong shape
  engine_error the engine failed for this request (the error text is kept)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from webinstruct.lib.text_normalize import normalize

_FENCE = re.compile(r"^\s*```(?:json)?\s*\n?(.*?)\n?```\s*$", re.DOTALL)
_NO_ANSWER = {"", "n/a", "na", "none", "null", "no answer", "unanswered", "unknown", "-", "?", "..."}
_BOXED = re.compile(r"\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}")
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)*(?:/\d+)?")


@dataclass(frozen=True)
class Limits:
    max_question_chars: int = 4000
    max_answer_chars: int = 12000
    min_answer_chars: int = 1


@dataclass
class Pair:
    question: str
    answer: str
    reject_reason: str | None = None
    chunk: int = 0


@dataclass
class Parsed:
    status: str
    pairs: list[Pair] = field(default_factory=list)
    error: str | None = None


def _load_json(text: str):
    fenced = _FENCE.match(text)
    body = fenced.group(1) if fenced else text
    try:
        return json.loads(body), None
    except json.JSONDecodeError as exc:
        # prose around one JSON object: take the outermost braces, once
        start, end = body.find("{"), body.rfind("}")
        if 0 <= start < end:
            try:
                return json.loads(body[start : end + 1]), None
            except json.JSONDecodeError:
                pass
        return None, f"not JSON: {exc.msg} at char {exc.pos}"


def question_key(text: str) -> str:
    """Equal for the same question written with other case, punctuation or spacing."""
    return normalize(text).replace(" ", "")


def validate_pair(question: str, answer: str, limits: Limits) -> str | None:
    """The reason a pair is unusable, or None."""
    q, a = question.strip(), answer.strip()
    if not q:
        return "empty_question"
    if a.lower().strip(" .!") in _NO_ANSWER or len(a) < limits.min_answer_chars:
        return "no_answer"
    if len(q) > limits.max_question_chars:
        return "question_too_long"
    if len(a) > limits.max_answer_chars:
        return "answer_too_long"
    if question_key(q) == question_key(a):
        return "answer_repeats_question"
    return None


def reply_json(text: str, finish_reason: str, error: str | None):
    """(data, None) for a complete JSON reply, else (None, the final Parsed status)."""
    if error:
        return None, Parsed("engine_error", error=error)
    if finish_reason == "length":
        return None, Parsed("truncated", error="stopped at max_tokens")
    if not text.strip():
        return None, Parsed("parse_error", error="empty reply")
    data, err = _load_json(text)
    return (None, Parsed("parse_error", error=err)) if err else (data, None)


def reply_bool(text: str, finish_reason: str, error: str | None, key: str, truthy: set, falsy: set):
    """(data, value, None) when the reply is a JSON object whose `key` is a boolean (or a
    word in `truthy` / `falsy`, a fair reading of the schema by a server that ignores it),
    else (None, None, the final Parsed status)."""
    data, final = reply_json(text, finish_reason, error)
    if final:
        return None, None, final
    if not isinstance(data, dict) or key not in data:
        return None, None, Parsed("parse_error", error=f"schema: expected an object with {key!r}")
    value = data[key]
    if isinstance(value, str):
        low = value.strip().lower()
        value = True if low in truthy else False if low in falsy else value
    if not isinstance(value, bool):
        return None, None, Parsed("parse_error", error=f"schema: {key!r} must be true or false, got {data[key]!r}")
    return data, value, None


def parse_extraction(text: str, finish_reason: str, error: str | None, limits: Limits, chunk: int = 0) -> Parsed:
    data, final = reply_json(text, finish_reason, error)
    if final:
        return final
    if isinstance(data, list):  # a bare list of pairs is an acceptable reading of the schema
        data = {"pairs": data}
    if not isinstance(data, dict) or not isinstance(data.get("pairs"), list):
        return Parsed("parse_error", error="schema: expected an object with a 'pairs' list")
    pairs = []
    for i, item in enumerate(data["pairs"]):
        if not isinstance(item, dict) or not isinstance(item.get("question"), str) or not isinstance(item.get("answer"), str):
            return Parsed("parse_error", error=f"schema: pairs[{i}] needs string 'question' and 'answer'")
        q, a = item["question"].strip(), item["answer"].strip()
        pairs.append(Pair(q, a, validate_pair(q, a, limits), chunk))
    if not pairs:
        return Parsed("none")
    status = "ok" if any(p.reject_reason is None for p in pairs) else "rejected"
    return Parsed(status, pairs)


def merge_pairs(pairs: list[Pair]) -> list[Pair]:
    """One pair per normalised question across a document's chunks (overlapping windows
    find the same pair twice). Valid beats rejected, then the longer answer (a window edge
    can cut an answer short), then the earlier chunk."""
    best: dict[str, Pair] = {}
    order: list[str] = []
    for p in pairs:
        key = question_key(p.question)
        cur = best.get(key)
        if cur is None:
            best[key] = p
            order.append(key)
        elif _rank(p) < _rank(cur):
            best[key] = p
    return [best[k] for k in order]


def _rank(p: Pair):
    return (p.reject_reason is not None, -len(p.answer), p.chunk)


def final_answer(answer: str) -> str | None:
    """The answer's conclusion as a checkable token: the last \\boxed{} content, else the
    last number in the final non-empty line; None when there is nothing to check."""
    boxed = _BOXED.findall(answer)
    if boxed:
        return boxed[-1].strip()
    lines = [line for line in answer.strip().splitlines() if line.strip()]
    if not lines:
        return None
    numbers = _NUMBER.findall(lines[-1])
    return numbers[-1] if numbers else None


def parse_refinement(
    text: str, finish_reason: str, error: str | None, limits: Limits, orig_answer: str
) -> Parsed:
    data, final = reply_json(text, finish_reason, error)
    if final:
        return final
    if not isinstance(data, dict) or not isinstance(data.get("question"), str) or not isinstance(data.get("answer"), str):
        return Parsed("parse_error", error="schema: expected an object with string 'question' and 'answer'")
    q, a = data["question"].strip(), data["answer"].strip()
    reason = validate_pair(q, a, limits)
    if reason is None and not keeps_final_answer(orig_answer, a):
        reason = "final_answer_changed"
    return Parsed("ok" if reason is None else "rejected", [Pair(q, a, reason)])


def _compact(s: str) -> str:
    return re.sub(r"\s+", "", s).replace(",", "")


def keeps_final_answer(original: str, rewrite: str) -> bool:
    """The rewrite concludes what the original concludes: its own final answer is the
    same, or the original's answer stands alone in its last line (so "20" is not
    found inside "120")."""
    expected = final_answer(original)
    if expected is None:
        return True
    got = final_answer(rewrite)
    if got is not None and _compact(got) == _compact(expected):
        return True
    lines = [line for line in rewrite.strip().splitlines() if line.strip()]
    tail = lines[-1] if lines else ""
    pattern = r"(?<![\w.])" + re.escape(expected) + r"(?![\w]|\.\d)"
    return re.search(pattern, tail) is not None
