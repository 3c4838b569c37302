"""The shape every LLM task shares: a record becomes a `Work` of chat requests, engine
calls group whole records by a token budget, and each reply becomes rows. The extract,
refine and judge tasks (lib.qa, lib.recall, lib.decontam) plug into `run_batches`; so the
whole path from record to rows runs without Spark.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from webinstruct.lib.llm.types import MALFORMED, ChatRequest, Generation, clean_text

SAFETY_TOKENS = 16  # chat-template tokens a count can miss (role markers at the seams)


def generation_id(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(("gen", *parts)).encode(), digest_size=16).hexdigest()


@dataclass
class Work:
    """Requests for one record: all are generated in the same batch, so one record's rows
    are written together and a record is either done or not."""

    record: dict
    requests: list[ChatRequest]
    meta: list  # per request: what `rows` needs to interpret its reply
    tokens: int  # prompt + reply budget of all requests, for batch sizing


def generation_fields(gen: Generation, gen_id: str) -> dict:
    """The generation's columns, every string one Arrow can encode (see clean_text)."""
    kept = not gen.error or gen.finish_reason == MALFORMED
    return {
        "raw_output": clean_text(gen.text) if kept and isinstance(gen.text, str) else None,
        "finish_reason": gen.finish_reason,
        "error": clean_text(gen.error) if gen.error else gen.error,
        "prompt_tokens": gen.prompt_tokens,
        "completion_tokens": gen.completion_tokens,
        "generation_id": gen_id,
    }


def batched(works: Iterable[Work], batch_tokens: int) -> Iterator[list[Work]]:
    """Group whole records into engine calls of about `batch_tokens` (prompt + reply budget);
    a record larger than the budget goes alone."""
    batch, size = [], 0
    for w in works:
        if batch and size + w.tokens > batch_tokens:
            yield batch
            batch, size = [], 0
        batch.append(w)
        size += w.tokens
    if batch:
        yield batch


def run_batches(works: Iterable[Work], generate: Callable[[list[ChatRequest]], list[Generation]],
                make_rows: Callable[[Work, list[Generation]], list[dict]], batch_tokens: int) -> Iterator[list[dict]]:
    """One list of rows per engine call, in input order."""
    for batch in batched(works, batch_tokens):
        requests = [req for w in batch for req in w.requests]
        generations = generate(requests)
        if len(generations) != len(requests):
            raise RuntimeError(f"engine returned {len(generations)} results for {len(requests)} requests")
        out, i = [], 0
        for w in batch:
            n = len(w.requests)
            out.extend(make_rows(w, generations[i : i + n]))
            i += n
        yield out
