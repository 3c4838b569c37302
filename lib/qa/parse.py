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
  parse_error  not JSON, JSON of the wrong shape, or a server reply the engine could not
               read (finish_reason "malformed"); final, never retried: at temperature 0 a
               retry would get the same reply
  engine_error the engine failed for this request (the error text is kept)

A reply is data from a model or a server, so reading it never raises: whatever it holds
(nesting deeper than the recursion limit, a 5000-digit number, lone surrogates that Arrow
cannot encode) ends as one of these statuses, and one bad reply never fails a slice.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field

from webinstruct.lib.llm.types import MALFORMED, clean_text
from webinstruct.lib.qa.debris import clean_answer
from webinstruct.lib.text_normalize import normalize

MAX_PREVIEW_CHARS = 80
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


def _unfence(text: str) -> str:
    """The body of a ```json fenced reply (plain string operations: a regex with nested
    repeats backtracks for minutes on a long hostile reply)."""
    body = text.strip()
    if len(body) < 6 or not (body.startswith("```") and body.endswith("```")):
        return text
    body = body[3:-3]
    if body[:4].lower() == "json":
        body = body[4:]
    return body.strip()


def _decode(body: str):
    """(data, None) or (None, why): every way json.loads fails on hostile input."""
    try:
        return json.loads(body), None
    except json.JSONDecodeError as exc:
        return None, f"not JSON: {exc.msg} at char {exc.pos}"
    except RecursionError:
        return None, "not JSON: nested deeper than the parser's recursion limit"
    except ValueError as exc:  # e.g. an integer longer than Python's digit limit
        return None, f"not JSON: {str(exc)[:200]}"


def _load_json(text: str):
    body = _unfence(text)
    data, err = _decode(body)
    if err is None:
        return data, None
    # prose around one JSON object: take the outermost braces, once
    start, end = body.find("{"), body.rfind("}")
    if 0 <= start < end and (start, end) != (0, len(body) - 1):
        data, inner = _decode(body[start : end + 1])
        if inner is None:
            return data, None
    return None, err


def _preview(value) -> str:
    """A short, safe description of a reply value for an error message."""
    if isinstance(value, (dict, list)):
        return f"a JSON {'object' if isinstance(value, dict) else 'array'}"
    return clean_text(repr(value)[:MAX_PREVIEW_CHARS])


def _never_raises(fail):
    """Decorator for the reply readers: an exception the checks did not foresee still ends
    as a parse_error (`fail(why)` builds the reader's own result), never as a failed slice."""

    def wrap(read):
        @functools.wraps(read)
        def guarded(*args, **kwargs):
            try:
                return read(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - a reply is data; reading it must not fail the batch
                return fail(f"unreadable reply: {type(exc).__name__}: {clean_text(str(exc))[:200]}")

        return guarded

    return wrap


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


def _parse_error(why: str) -> Parsed:
    return Parsed("parse_error", error=why)


@_never_raises(lambda why: (None, _parse_error(why)))
def reply_json(text: str, finish_reason: str, error: str | None):
    """(data, None) for a complete JSON reply, else (None, the final Parsed status)."""
    if finish_reason == MALFORMED:  # the server answered, unreadably: as final as bad JSON
        return None, _parse_error(error or "malformed server reply")
    if error:
        return None, Parsed("engine_error", error=clean_text(error))
    if finish_reason == "length":
        return None, Parsed("truncated", error="stopped at max_tokens")
    if not isinstance(text, str) or not text.strip():
        return None, _parse_error("empty reply")
    data, err = _load_json(text)
    return (None, _parse_error(err)) if err else (data, None)


@_never_raises(lambda why: (None, None, _parse_error(why)))
def reply_bool(text: str, finish_reason: str, error: str | None, key: str, truthy: set, falsy: set):
    """(data, value, None) when the reply is a JSON object whose `key` is a boolean (or a
    word in `truthy` / `falsy`, a fair reading of the schema by a server that ignores it),
    else (None, None, the final Parsed status)."""
    data, final = reply_json(text, finish_reason, error)
    if final:
        return None, None, final
    if not isinstance(data, dict) or key not in data:
        return None, None, _parse_error(f"schema: expected an object with {key!r}")
    value = data[key]
    if isinstance(value, str):
        low = value.strip().lower()
        value = True if low in truthy else False if low in falsy else value
    if not isinstance(value, bool):
        return None, None, _parse_error(f"schema: {key!r} must be true or false, got {_preview(data[key])}")
    return data, value, None


@_never_raises(_parse_error)
def parse_extraction(text: str, finish_reason: str, error: str | None, limits: Limits, chunk: int = 0) -> Parsed:
    data, final = reply_json(text, finish_reason, error)
    if final:
        return final
    if isinstance(data, list):  # a bare list of pairs is an acceptable reading of the schema
        data = {"pairs": data}
    if not isinstance(data, dict) or not isinstance(data.get("pairs"), list):
        return _parse_error("schema: expected an object with a 'pairs' list")
    pairs = []
    for i, item in enumerate(data["pairs"]):
        if not isinstance(item, dict) or not isinstance(item.get("question"), str) or not isinstance(item.get("answer"), str):
            return _parse_error(f"schema: pairs[{i}] needs string 'question' and 'answer'")
        q, raw = clean_text(item["question"]).strip(), clean_text(item["answer"]).strip()
        cleaned = clean_answer(raw)  # quoted posts, signatures, "Sent from my ...", edit stamps
        a = cleaned.text
        reason = "answer_only_forum_debris" if cleaned.removed and not a.strip() else validate_pair(q, a, limits)
        pairs.append(Pair(q, a, reason, chunk))
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


@_never_raises(_parse_error)
def parse_refinement(
    text: str, finish_reason: str, error: str | None, limits: Limits, orig_answer: str
) -> Parsed:
    data, final = reply_json(text, finish_reason, error)
    if final:
        return final
    if not isinstance(data, dict) or not isinstance(data.get("question"), str) or not isinstance(data.get("answer"), str):
        return _parse_error("schema: expected an object with string 'question' and 'answer'")
    q, a = clean_text(data["question"]).strip(), clean_text(data["answer"]).strip()
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
