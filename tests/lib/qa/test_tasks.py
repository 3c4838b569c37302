"""From one page's requests and recorded replies to its output rows (no engine needed)."""

import json

from tests.conftest import real_pages
from webinstruct.lib.llm.prompts import load_prompt
from webinstruct.lib.llm.tasks import batched, run_batches
from webinstruct.lib.llm.tokenizer import load_tokenizer
from webinstruct.lib.llm.types import Generation
from webinstruct.lib.qa.parse import Limits
from webinstruct.lib.qa.tasks import ExtractTask, RefineTask


def _reply(*pairs):
    return Generation(text=json.dumps({"pairs": [{"question": q, "answer": a} for q, a in pairs]}),
                      prompt_tokens=900, completion_tokens=40, finish_reason="stop")


def test_rows_of_a_chunked_page_account_for_every_reply(offline_model):
    tok = load_tokenizer(str(offline_model))
    task = ExtractTask(load_prompt("extract"), "m", tok, 2048, 512, 128, max_chunks=4, limits=Limits())
    page = real_pages()[-1]
    work = task.work({"doc_id": "d1", "url": "u", "title": page["title"], "text": page["main_content"]})
    assert len(work.requests) == 4 and work.meta[0][2] > 0  # capped, the rest counted
    replies = [
        _reply(("What is the fastest SSD?", "The X1, at 7 GB/s.")),
        _reply(("what is the fastest SSD", "The X1.")),  # the same question, shorter answer: merged away
        Generation(text='{"pairs": [', prompt_tokens=900, completion_tokens=512, finish_reason="length"),
        _reply(),
    ]
    rows = task.rows(work, replies)
    by_chunk = {r["chunk"]: r for r in rows}
    assert [r["status"] for r in sorted(rows, key=lambda r: r["chunk"])] == ["ok", "merged", "truncated", "none"]
    assert by_chunk[0]["orig_answer"] == "The X1, at 7 GB/s."
    assert len({r["generation_id"] for r in rows}) == 4  # one per request: tokens add up
    assert all(r["chunks"] == 4 and r["chunks_skipped"] == work.meta[0][2] for r in rows)
    again = task.rows(work, replies)
    assert [r["qa_id"] for r in again] == [r["qa_id"] for r in rows]  # ids are content hashes


def test_refine_pair_too_long_for_the_context_is_rejected_without_a_request(offline_model):
    tok = load_tokenizer(str(offline_model))
    task = RefineTask(load_prompt("refine"), "m", tok, 1024, 512, Limits(), check_final_answer=True)
    long = {"qa_id": "q1", "doc_id": "d", "orig_question": "Why? " * 300, "orig_answer": "Because."}
    short = {"qa_id": "q2", "doc_id": "d", "orig_question": "What is 2+2?", "orig_answer": "2+2 = 4"}
    works = [task.work(long), task.work(short)]
    assert works[0].requests == [] and len(works[1].requests) == 1
    sent = []

    def generate(requests):
        sent.extend(requests)
        return [Generation(text='{"question": "What is 2 + 2?", "answer": "2 + 2 = 4"}', prompt_tokens=300,
                           completion_tokens=20, finish_reason="stop") for _ in requests]

    rows = [r for batch in run_batches(works, generate, task.rows, 4096) for r in batch]
    assert len(sent) == 1
    assert [(r["qa_id"], r["status"], r["reject_reason"]) for r in rows] == [
        ("q1", "rejected", "too_long_for_context"), ("q2", "ok", None)]


def test_batches_hold_whole_records_within_the_token_budget(offline_model):
    tok = load_tokenizer(str(offline_model))
    task = ExtractTask(load_prompt("extract"), "m", tok, 2048, 256, 64, max_chunks=8, limits=Limits())
    works = [task.work({"doc_id": p["file_id"], "title": p["title"], "text": p["main_content"]}) for p in real_pages("forum")[:30]]
    batches = list(batched(works, 8000))
    assert sum(len(b) for b in batches) == 30
    for b in batches:
        assert len(b) == 1 or sum(w.tokens for w in b) <= 8000
