"""What the extract and refine stages ask an engine, and the rows they make of its replies.

Spark-free, so the whole path from record to output rows is testable without a cluster:
udfs/llm.py only streams records through lib.llm.tasks.run_batches and an engine.
"""

from __future__ import annotations

import hashlib

from webinstruct.lib.llm.chunking import plan_chunks
from webinstruct.lib.llm.prompts import Prompt
from webinstruct.lib.llm.tasks import SAFETY_TOKENS, Work, generation_fields, generation_id
from webinstruct.lib.llm.types import ChatRequest, Generation
from webinstruct.lib.qa.parse import (
    Limits,
    Pair,
    Parsed,
    merge_pairs,
    parse_extraction,
    parse_refinement,
    question_key,
    validate_pair,
)

MAX_TITLE_CHARS = 200
MIN_TEXT_TOKENS = 128  # a context that leaves less for page text is a configuration error


def _hash(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


MARKUP_MODEL = "schema.org markup"  # the `model` of pairs a page stated itself
MARKUP_VERSION = "markup-1"  # their `prompt_version`: a change in how they are chosen is a new one
AS_STATED = "as stated"  # the `refiner` of markup pairs published unchanged (refine.markup = "keep")


def markup_rows(doc_id: str, url: str | None, pairs: list[dict], limits: Limits) -> list[dict]:
    """qa_extracted rows (method `markup`) from a page's qa_markup pairs, with no LLM call.

    One row per question: its accepted answer, else the most-voted, else the first on the
    page, so a question never has two answers in the dataset. Validated by the same rules
    as LLM pairs."""
    def rank(p: dict):
        return (0 if p.get("accepted") else 1, -(p.get("votes") or 0), p.get("position") or 0)

    rows, seen = [], set()
    for p in sorted(pairs, key=rank):
        q, a = (p.get("question") or "").strip(), (p.get("answer") or "").strip()
        key = question_key(q)
        if key in seen:
            continue
        seen.add(key)
        reason = validate_pair(q, a, limits)
        rows.append({
            "qa_id": _hash(doc_id, MARKUP_MODEL, MARKUP_VERSION, key), "doc_id": doc_id, "url": url,
            "chunk": 0, "chunks": 1, "chunks_skipped": 0, "status": "ok" if reason is None else "rejected",
            "reject_reason": reason, "orig_question": q, "orig_answer": a, "raw_output": None, "finish_reason": None,
            "error": None, "model": MARKUP_MODEL, "prompt_version": MARKUP_VERSION, "prompt_tokens": 0,
            "completion_tokens": 0, "generation_id": None, "method": "markup",
        })
    return rows


class ExtractTask:
    def __init__(self, prompt: Prompt, model: str, tokenizer, max_model_len: int, max_tokens: int,
                 overlap: int, max_chunks: int, limits: Limits):
        self.prompt, self.model, self.tok = prompt.with_controls(tokenizer.control_tokens()), model, tokenizer
        self.max_tokens, self.overlap, self.max_chunks, self.limits = max_tokens, overlap, max_chunks, limits
        self.overhead = tokenizer.count_chat(self.prompt.messages(title="", document="")) + SAFETY_TOKENS
        self.max_model_len = max_model_len
        self.skipped_chunks = 0  # chunks past max_chunks, for the counters
        if self._budget(0) < MIN_TEXT_TOKENS:
            raise ValueError(
                f"llm.max_model_len {max_model_len} leaves {self._budget(0)} tokens for page text after the "
                f"prompt ({self.overhead}) and extract.max_tokens ({max_tokens}); raise max_model_len or lower max_tokens"
            )

    def _budget(self, title_tokens: int) -> int:
        return self.max_model_len - self.max_tokens - self.overhead - title_tokens

    def work(self, record: dict) -> Work:
        # defused before measuring: the windows are cut from the text the model will read
        title = self.prompt.defuse(record.get("title") or "", line=True)[:MAX_TITLE_CHARS]
        text = self.prompt.defuse(record.get("text") or "")
        budget = self._budget(self.tok.count(title))
        if budget < MIN_TEXT_TOKENS:  # a long title would starve the page text: drop it
            title, budget = "", self._budget(0)
        chunks = plan_chunks(text, self.tok.offsets(text), budget, self.overlap)
        skipped = max(0, len(chunks) - self.max_chunks)
        self.skipped_chunks += skipped
        chunks = chunks[: self.max_chunks]
        requests, meta, tokens = [], [], 0
        for c in chunks:
            requests.append(ChatRequest(self.prompt.messages(title=title, document=text[c.start : c.end]), self.prompt.schema))
            meta.append((c.index, len(chunks), skipped))
            tokens += self.overhead + c.tokens + self.max_tokens
        return Work(record, requests, meta, tokens)

    def rows(self, work: Work, generations: list[Generation]) -> list[dict]:
        doc_id = work.record["doc_id"]
        skipped = work.meta[0][2] if work.meta else 0
        base = {"doc_id": doc_id, "url": work.record.get("url"), "model": self.model, "prompt_version": self.prompt.version,
                "chunks_skipped": skipped, "method": "llm"}
        pairs: list[Pair] = []
        failed, empty = [], []
        gen_of_chunk = {}
        for (chunk, chunks, _), gen in zip(work.meta, generations):
            parsed = parse_extraction(gen.text, gen.finish_reason, gen.error, self.limits, chunk)
            gen_row = generation_fields(gen, generation_id(doc_id, self.model, self.prompt.version, str(chunk)))
            gen_of_chunk[chunk] = (gen_row, chunks)
            if parsed.pairs:
                pairs.extend(parsed.pairs)
            elif parsed.status == "none":
                empty.append((chunk, parsed))
            else:
                failed.append((chunk, parsed))
        rows = []
        merged = merge_pairs(pairs)
        for p in merged:
            gen_row, chunks = gen_of_chunk[p.chunk]
            rows.append({
                **base, **gen_row, "chunk": p.chunk, "chunks": chunks,
                "qa_id": _hash(doc_id, self.model, self.prompt.version, question_key(p.question)),
                "status": "ok" if p.reject_reason is None else "rejected", "reject_reason": p.reject_reason,
                "orig_question": p.question, "orig_answer": p.answer,
            })
        # every reply leaves a row, so tokens and requests add up from the table alone: a
        # reply whose pairs were all found better in another window is `merged`
        winners = {p.chunk for p in merged}
        losers = sorted({p.chunk for p in pairs} - winners)
        failed += [(c, Parsed("merged", error=None)) for c in losers]
        for chunk, parsed in sorted(failed + empty, key=lambda x: x[0]):
            gen_row, chunks = gen_of_chunk[chunk]
            rows.append({
                **base, **gen_row, "chunk": chunk, "chunks": chunks,
                "qa_id": _hash(doc_id, self.model, self.prompt.version, f"#{chunk}:{parsed.status}"),
                "status": parsed.status, "reject_reason": None, "error": parsed.error or gen_row["error"],
                "orig_question": None, "orig_answer": None,
            })
        return rows


class RefineTask:
    def __init__(self, prompt: Prompt, model: str, tokenizer, max_model_len: int, max_tokens: int,
                 limits: Limits, check_final_answer: bool):
        self.prompt, self.model, self.tok = prompt.with_controls(tokenizer.control_tokens()), model, tokenizer
        self.max_model_len, self.max_tokens, self.limits = max_model_len, max_tokens, limits
        self.check_final_answer = check_final_answer

    def work(self, record: dict) -> Work:
        messages = self.prompt.messages(question=record["orig_question"], answer=record["orig_answer"])
        prompt_tokens = self.tok.count_chat(messages)
        if prompt_tokens + self.max_tokens > self.max_model_len:  # never sent: it cannot fit
            return Work(record, [], [prompt_tokens], 0)
        return Work(record, [ChatRequest(messages, self.prompt.schema)], [prompt_tokens], prompt_tokens + self.max_tokens)

    def rows(self, work: Work, generations: list[Generation]) -> list[dict]:
        r = work.record
        if not work.requests:
            gen = Generation(prompt_tokens=0, finish_reason="")
            parsed = None
        else:
            gen = generations[0]
        gen_row = generation_fields(gen, generation_id(r["qa_id"], self.model, self.prompt.version))
        if work.requests:
            orig_answer = r["orig_answer"] if self.check_final_answer else ""
            parsed = parse_refinement(gen.text, gen.finish_reason, gen.error, self.limits, orig_answer)
        else:
            parsed = Parsed("rejected", [Pair("", "", "too_long_for_context")],
                            f"prompt of {work.meta[0]} tokens + refine.max_tokens exceeds llm.max_model_len")
        pair = parsed.pairs[0] if parsed.pairs else None
        return [{
            **gen_row, "qa_id": r["qa_id"], "refiner": self.model, "doc_id": r["doc_id"],
            "status": parsed.status, "reject_reason": pair.reject_reason if pair else None,
            "error": parsed.error or gen_row["error"],
            "question": (pair.question or None) if pair else None, "answer": (pair.answer or None) if pair else None,
            "orig_question": r["orig_question"], "orig_answer": r["orig_answer"],
            "model": self.model, "prompt_version": self.prompt.version,
        }]
