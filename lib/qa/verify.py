"""An LLM verifier for the answer pairs math-verify cannot decide (General-Reasoner replaced
string matching with a generative verifier): "12 apples" and "twelve", "5 cm" and "50 mm",
"Paris" and "the city of Paris". Spark-free: synthesize streams the pairs through
`AnswerPairTask` with the engine plumbing the other LLM stages use.

Only what the rules leave open is asked: two answers the rules call equal, two plain
numbers or formulas they call different, or two choice letters, never reach the LLM. Each
pair is asked in both orders (the decontamination judge's guard against position bias)
and counts as equal only when both orders say so; a reply that does not parse is stored
as `parse_error` and decides nothing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from typing import Callable

from webinstruct.lib.llm.prompts import Prompt
from webinstruct.lib.llm.tasks import SAFETY_TOKENS, Work, generation_fields, generation_id
from webinstruct.lib.llm.types import ChatRequest, Generation
from webinstruct.lib.qa.answers import MAX_ANSWER_CHARS, Vote, equivalent, majority, math_readable, normalise
from webinstruct.lib.qa.parse import reply_bool

VERIFY_VERSION = "verify-1"  # in every pair hash: bump it when what is asked changes, and every pair is asked again
ORDERS = ("a_first", "b_first")
_TRUE = {"true", "yes", "equivalent", "same", "1"}
_FALSE = {"false", "no", "different", "not equivalent", "0"}
_TEX_COMMAND = re.compile(r"\\[A-Za-z]+")
_WORD = re.compile(r"[A-Za-z]{2,}")
_LETTER = re.compile(r"[a-e]")
MAX_QUESTION_CHARS = 4000  # the problem is context for the answers; its tail adds little


@dataclass
class AnswerVerdict:
    status: str  # ok | parse_error | truncated | engine_error
    equivalent: bool | None = None
    error: str | None = None


def words(answer: str) -> set[str]:
    """Words or units beside the maths (TeX commands are not words)."""
    return {w.lower() for w in _WORD.findall(_TEX_COMMAND.sub(" ", answer))}


def rule_undecided(a: str | None, b: str | None, timeout_s: int = 5) -> bool:
    """True when the rules cannot settle the pair: they do not call it equal, and one side
    is not mathematics to math-verify, or the two carry different words (units, names,
    phrases: "5 cm" and "50 mm" are two numbers to math-verify)."""
    if a is None or b is None:
        return False
    na, nb = normalise(a), normalise(b)
    if not na or not nb or na == nb or (_LETTER.fullmatch(na) and _LETTER.fullmatch(nb)):
        return False
    if equivalent(a, b, timeout_s):
        return False
    readable = math_readable(a, timeout_s) and math_readable(b, timeout_s)
    wa, wb = words(a), words(b)
    if readable and wa == wb:  # plain maths, or the same unit on both sides: the rules' "different" stands
        return False
    return True


def canonical(a: str, b: str) -> tuple[str, str]:
    """The pair in one order (by normalised text), so (a, b) and (b, a) are one pair."""
    return (a, b) if (normalise(a), a) <= (normalise(b), b) else (b, a)


def pair_hash(question_id: str, a: str, b: str) -> str:
    """The question and the pair's normalised answers: the same pair under another question
    is another pair (a unit may be implied by one problem and not by another)."""
    x, y = canonical(a[:MAX_ANSWER_CHARS], b[:MAX_ANSWER_CHARS])
    return hashlib.blake2b("\x1f".join(("answers", VERIFY_VERSION, question_id, normalise(x), normalise(y))).encode(),
                           digest_size=16).hexdigest()


def candidate_pairs(answers: list[str | None], reference: str | None, max_groups: int, timeout_s: int = 5) -> list[tuple[str, str]]:
    """The pairs to ask about one question: the representatives of the `max_groups` largest
    rule groups, each against the others and against the page's answer, where the rules
    leave the pair open. At most max_groups * (max_groups + 1) / 2 pairs."""
    vote = majority(answers, timeout_s)
    reps = [answer for answer, _ in vote.groups[:max_groups]]
    pairs = [(reps[i], reps[j]) for i in range(len(reps)) for j in range(i + 1, len(reps))]
    if reference and normalise(reference):
        pairs += [(reference, rep) for rep in reps]
    out, seen = [], set()
    for a, b in pairs:
        a, b = canonical(a[:MAX_ANSWER_CHARS], b[:MAX_ANSWER_CHARS])
        key = (normalise(a), normalise(b))
        if key not in seen and rule_undecided(a, b, timeout_s):
            seen.add(key)
            out.append((a, b))
    return out


def parse_verdict(text: str, finish_reason: str, error: str | None) -> AnswerVerdict:
    _, value, final = reply_bool(text, finish_reason, error, "equivalent", _TRUE, _FALSE)
    return AnswerVerdict(final.status, error=final.error) if final else AnswerVerdict("ok", value)


def combine(answers: list[bool | None]) -> bool | None:
    """Both orders parsed and said equal -> True; any order said different -> False;
    otherwise (an order did not parse) None, which merges nothing."""
    if any(a is False for a in answers):
        return False
    if answers and all(a is True for a in answers):
        return True
    return None


class Judged:
    """One question's LLM verdicts (pair_hash -> equal or not), asked by the rules' misses."""

    def __init__(self, question_id: str, verdicts: dict[str, bool]):
        self.question_id, self.verdicts = question_id, verdicts

    def same(self, a: str | None, b: str | None) -> bool:
        if a is None or b is None or not self.verdicts:
            return False
        return self.verdicts.get(pair_hash(self.question_id, a, b)) is True

    def __bool__(self) -> bool:
        return bool(self.verdicts)


def judged_from(question_id: str, value) -> Judged | None:
    """A `judged` column's value (pair_hash, equivalent records; None or NaN without any)."""
    if value is None or isinstance(value, float):
        return None
    return Judged(question_id, {v["pair_hash"]: bool(v["equivalent"]) for v in value})


def merge_groups(vote: Vote, same: Callable[[str, str], bool], max_groups: int) -> tuple[Vote, int]:
    """Rule groups whose representatives the LLM called equal become one group (the larger
    one's representative speaks for it); returns the new vote and how many merges it made.
    Only the `max_groups` largest groups were asked about; the rest stay as they are."""
    k = min(len(vote.groups), max_groups)
    parent = list(range(len(vote.groups)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    merges = 0
    for i in range(k):
        for j in range(i + 1, k):
            ri, rj = root(i), root(j)
            if ri != rj and same(vote.groups[i][0], vote.groups[j][0]):
                parent[max(ri, rj)] = min(ri, rj)
                merges += 1
    if not merges:
        return vote, 0
    merged: dict[int, list[int]] = {}
    for g in range(len(vote.groups)):
        merged.setdefault(root(g), []).append(g)
    groups = []
    for r, members in merged.items():
        positions = tuple(sorted(p for g in members for p in vote.group_members[g]))
        groups.append((vote.groups[r][0], len(positions), positions, min(positions)))
    groups.sort(key=lambda g: (-g[1], g[3]))
    parsed = sum(g[1] for g in groups)
    top = groups[0]
    return replace(vote, answer=top[0], votes=top[1], agreement=top[1] / parsed, groups=[(g[0], g[1]) for g in groups],
                   members=top[2], group_members=tuple(g[2] for g in groups)), merges


class AnswerPairTask:
    """record: question_id, question, pair_hash, answer_a, answer_b -> one row per order."""

    def __init__(self, prompt: Prompt, model: str, tokenizer, max_model_len: int, max_tokens: int):
        self.prompt, self.model, self.tok = prompt.with_controls(tokenizer.control_tokens()), model, tokenizer
        self.max_model_len, self.max_tokens = max_model_len, max_tokens
        empty = self.prompt.messages(question="", first="", second="")
        if tokenizer.count_chat(empty) + SAFETY_TOKENS + max_tokens > max_model_len:
            raise ValueError(f"llm.max_model_len {max_model_len} cannot hold the verify_answer prompt and "
                             f"synthesize.verifier_max_tokens {max_tokens}")

    def _fit(self, question: str, first: str, second: str) -> tuple[list[dict], int]:
        question = question[:MAX_QUESTION_CHARS]
        while True:  # the answers are what is judged: cut the problem until the request fits
            messages = self.prompt.messages(question=question, first=first, second=second)
            tokens = self.tok.count_chat(messages) + SAFETY_TOKENS
            if tokens + self.max_tokens <= self.max_model_len or not question:
                return messages, tokens
            question = question[: int(len(question) * 0.7)] if len(question) > 40 else ""

    def work(self, record: dict) -> Work:
        q = record.get("question") or ""
        a, b = (record["answer_a"] or "")[:MAX_ANSWER_CHARS], (record["answer_b"] or "")[:MAX_ANSWER_CHARS]
        first, t1 = self._fit(q, a, b)
        second, t2 = self._fit(q, b, a)
        if max(t1, t2) + self.max_tokens > self.max_model_len:  # two long answers: never sent
            return Work(record, [], [(order, t) for order, t in zip(ORDERS, (t1, t2))], 0)
        schema = self.prompt.schema
        return Work(record, [ChatRequest(first, schema), ChatRequest(second, schema)], [(order, t) for order, t in zip(ORDERS, (t1, t2))],
                    t1 + t2 + 2 * self.max_tokens)

    def rows(self, work: Work, generations: list[Generation]) -> list[dict]:
        r, out = work.record, []
        if not work.requests:
            generations = [Generation(prompt_tokens=t, finish_reason="") for _, t in work.meta]
        for (order, _), gen in zip(work.meta, generations):
            verdict = parse_verdict(gen.text, gen.finish_reason, gen.error) if work.requests else \
                AnswerVerdict("too_long", error="the answers and synthesize.verifier_max_tokens exceed llm.max_model_len")
            gen_row = generation_fields(gen, generation_id("verify", r["pair_hash"], order, self.model, self.prompt.version))
            out.append({
                **gen_row, "question_id": r["question_id"], "pair_hash": r["pair_hash"], "answer_a": r["answer_a"],
                "answer_b": r["answer_b"], "order": order, "status": verdict.status, "equivalent": verdict.equivalent,
                "error": verdict.error or gen_row["error"], "model": self.model, "prompt_version": self.prompt.version,
            })
        return out
