"""The LLM domain judge: is this website a source of educational Q&A? (MAmmoTH2's step
between the two recall rounds.) Spark-free: the recall job streams candidate domains
through `DomainJudgeTask` with the same engine plumbing as extract and refine.

A verdict is one of: ok (with educational true/false and a reason), truncated,
parse_error or engine_error. Only `ok` verdicts accept or reject a domain.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from webinstruct.lib.llm.prompts import Prompt, one_line
from webinstruct.lib.llm.tasks import SAFETY_TOKENS, Work, generation_fields, generation_id
from webinstruct.lib.llm.types import ChatRequest, Generation, clean_text
from webinstruct.lib.qa.parse import reply_bool

_TRUE = {"true", "yes", "educational", "1"}
_FALSE = {"false", "no", "not_educational", "not educational", "0"}
MAX_REASON_CHARS = 1000


@dataclass
class Verdict:
    status: str
    educational: bool | None = None
    reason: str | None = None
    error: str | None = None


def parse_verdict(text: str, finish_reason: str, error: str | None) -> Verdict:
    data, value, final = reply_bool(text, finish_reason, error, "educational", _TRUE, _FALSE)
    if final:
        return Verdict(final.status, error=final.error)
    reason = data.get("reason")
    reason = clean_text(reason).strip()[:MAX_REASON_CHARS] if isinstance(reason, str) else None
    return Verdict("ok", value, reason)


def format_samples(samples: list[dict], snippet_chars: int) -> str:
    lines = []
    for i, s in enumerate(samples, 1):
        # one line per field: a sample cannot start a line that looks like the next sample
        url, title = one_line(_text(s.get("url")))[:500], one_line(_text(s.get("title")))[:200]
        snippet = one_line(_text(s.get("text")))[:snippet_chars]
        lines.append(f"{i}. {url}\n   title: {title}\n   text: {snippet}")
    return "\n".join(lines)


def _text(value) -> str:
    return value if isinstance(value, str) else ""


class DomainJudgeTask:
    """record: domain, round, documents, recalled, samples (JSON list of url/title/text)."""

    def __init__(self, prompt: Prompt, model: str, tokenizer, max_model_len: int, max_tokens: int, snippet_chars: int):
        self.prompt, self.model, self.tok = prompt.with_controls(tokenizer.control_tokens()), model, tokenizer
        self.max_model_len, self.max_tokens, self.snippet_chars = max_model_len, max_tokens, snippet_chars
        empty = self._messages({"domain": "", "documents": 0, "recalled": 0}, [])
        if tokenizer.count_chat(empty) + SAFETY_TOKENS + max_tokens > max_model_len:
            raise ValueError(f"llm.max_model_len {max_model_len} cannot hold the domain judge prompt and recall.judge_max_tokens {max_tokens}")

    def _messages(self, record: dict, samples: list[dict]) -> list[dict]:
        return self.prompt.messages(
            domain=record["domain"], documents=str(record["documents"]), recalled=str(record["recalled"]),
            samples=format_samples(samples, self.snippet_chars) or "(no pages)",
        )

    def work(self, record: dict) -> Work:
        samples = json.loads(record["samples"] or "[]")
        while True:  # drop samples from the end until the prompt fits the context
            messages = self._messages(record, samples)
            tokens = self.tok.count_chat(messages) + SAFETY_TOKENS
            if tokens + self.max_tokens <= self.max_model_len or not samples:
                break
            samples = samples[:-1]
        return Work(record, [ChatRequest(messages, self.prompt.schema)], [len(samples)], tokens + self.max_tokens)

    def rows(self, work: Work, generations: list[Generation]) -> list[dict]:
        r, gen = work.record, generations[0]
        verdict = parse_verdict(gen.text, gen.finish_reason, gen.error)
        gen_row = generation_fields(gen, generation_id("domain", r["domain"], self.model, self.prompt.version))
        return [{
            **gen_row, "domain": r["domain"], "round": int(r["round"]), "status": verdict.status,
            "educational": verdict.educational, "reason": verdict.reason, "samples": work.meta[0],
            "error": verdict.error or gen_row["error"], "model": self.model, "prompt_version": self.prompt.version,
        }]
