"""Tier-3 decontamination: an LLM asked whether a pair's question and a benchmark question
are the same problem, in both orders (OpenMathInstruct-2's check; the second order cancels
the position bias small judges have). Spark-free: the decontam job streams candidates
through `SameProblemTask` with the engine plumbing extract and refine use.

Each order gives one row: ok (with `same`), truncated, parse_error or engine_error.
`combine` turns the two rows into the tier-3 verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

from webinstruct.lib.llm.prompts import Prompt
from webinstruct.lib.llm.tasks import SAFETY_TOKENS, Work, generation_fields, generation_id
from webinstruct.lib.llm.types import ChatRequest, Generation
from webinstruct.lib.qa.parse import reply_bool

_TRUE = {"true", "yes", "same", "1"}
_FALSE = {"false", "no", "different", "0"}
ORDERS = ("pair_first", "benchmark_first")


@dataclass
class SameVerdict:
    status: str
    same: bool | None = None
    error: str | None = None


def parse_same(text: str, finish_reason: str, error: str | None) -> SameVerdict:
    _, value, final = reply_bool(text, finish_reason, error, "same", _TRUE, _FALSE)
    return SameVerdict(final.status, error=final.error) if final else SameVerdict("ok", value)


def combine(answers: list[bool | None], rule: str) -> str:
    """Verdict from the parsed answers of both orders (None = that order did not parse):
    `either` flags when any order says same; `both` needs every order to say same, and
    any "different" makes it clean. With no parsed answer, or under `both` with only
    "same" answers and a missing one, the verdict is `unparsed`."""
    parsed = [a for a in answers if a is not None]
    if not parsed:
        return "unparsed"
    if rule == "either":
        return "contaminated" if any(parsed) else "clean"
    if not all(parsed):
        return "clean"
    return "contaminated" if len(parsed) == len(answers) else "unparsed"


class SameProblemTask:
    """record: qa_id, refiner, benchmark, item_id, question, bench_question (and the
    pair_hash / item_hash of the two texts, stored with the replies)."""

    def __init__(self, prompt: Prompt, model: str, tokenizer, max_model_len: int, max_tokens: int, max_chars: int):
        self.prompt, self.model, self.tok = prompt.with_controls(tokenizer.control_tokens()), model, tokenizer
        self.max_model_len, self.max_tokens, self.max_chars = max_model_len, max_tokens, max_chars
        empty = self.prompt.messages(first="", second="")
        if tokenizer.count_chat(empty) + SAFETY_TOKENS + max_tokens > max_model_len:
            raise ValueError(f"llm.max_model_len {max_model_len} cannot hold the decontam judge prompt and decontam.judge_max_tokens {max_tokens}")

    def _fit(self, a: str, b: str) -> tuple[list[dict], int]:
        a, b = a[: self.max_chars], b[: self.max_chars]
        while True:  # cut the longer text until both fit the context
            messages = self.prompt.messages(first=a, second=b)
            tokens = self.tok.count_chat(messages) + SAFETY_TOKENS
            if tokens + self.max_tokens <= self.max_model_len or (len(a) < 50 and len(b) < 50):
                return messages, tokens
            if len(a) >= len(b):
                a = a[: int(len(a) * 0.8)]
            else:
                b = b[: int(len(b) * 0.8)]

    def work(self, record: dict) -> Work:
        q, bq = record["question"] or "", record["bench_question"] or ""
        first, t1 = self._fit(q, bq)
        second, t2 = self._fit(bq, q)
        schema = self.prompt.schema
        return Work(record, [ChatRequest(first, schema), ChatRequest(second, schema)], list(ORDERS),
                    t1 + t2 + 2 * self.max_tokens)

    def rows(self, work: Work, generations: list[Generation]) -> list[dict]:
        r = work.record
        out = []
        for order, gen in zip(work.meta, generations):
            verdict = parse_same(gen.text, gen.finish_reason, gen.error)
            gen_row = generation_fields(gen, generation_id("decontam", r["qa_id"], str(r.get("refiner")), r["benchmark"],
                                                           r["item_id"], order, self.model, self.prompt.version))
            out.append({
                **gen_row, "qa_id": r["qa_id"], "refiner": r.get("refiner"), "benchmark": r["benchmark"], "item_id": r["item_id"],
                "pair_hash": r.get("pair_hash"), "item_hash": r.get("item_hash"), "order": order,
                "status": verdict.status, "same": verdict.same, "error": verdict.error or gen_row["error"],
                "model": self.model, "prompt_version": self.prompt.version,
            })
        return out
