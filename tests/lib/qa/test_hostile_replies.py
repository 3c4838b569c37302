"""Replies built to break the readers: every one ends as a status (a row), never as an
exception that would fail its slice on every retry."""

from __future__ import annotations

import json
import time

import pyarrow as pa
import pytest

from webinstruct.lib.decontam.judge import parse_same
from webinstruct.lib.llm.tasks import generation_fields
from webinstruct.lib.llm.types import MALFORMED, Generation
from webinstruct.lib.qa.parse import Limits, parse_extraction, parse_refinement
from webinstruct.lib.recall.judge import parse_verdict

L = Limits()
DEEP = "[" * 100_000 + "]" * 100_000
HOSTILE = [
    DEEP,
    '{"pairs": ' + DEEP + "}",
    '{"same": ' + DEEP + ', "educational": ' + DEEP + "}",
    "Sure: {" + "[" * 50_000 + "}",  # prose around braces: the second attempt must not raise either
    '{"pairs": [], "n": ' + "1" * 5000 + "}",  # longer than Python's integer digit limit
    '{"same": ' + "9" * 5000 + "}",
    "```json\n" + DEEP + "\n```",
]


def readers(text: str, finish: str = "stop", error: str | None = None) -> list:
    return [parse_extraction(text, finish, error, L), parse_refinement(text, finish, error, L, "4"),
            parse_verdict(text, finish, error), parse_same(text, finish, error)]


@pytest.mark.parametrize("reply", HOSTILE, ids=range(len(HOSTILE)))
def test_unreadable_json_is_a_parse_error_for_every_reader(reply):
    for result in readers(reply):
        assert result.status == "parse_error" and result.error and len(result.error) < 300


def test_a_long_fenced_reply_is_read_in_linear_time():
    # the old fence regex needed about 45 s for this (it backtracks quadratically)
    reply = "```" + " " * 20_000 + "x" * 20_000
    started = time.monotonic()
    assert parse_extraction(reply, "stop", None, L).status == "parse_error"
    assert time.monotonic() - started < 2
    assert parse_extraction('```JSON\n{"pairs": []}\n```', "stop", None, L).status == "none"


def test_a_wrong_type_value_is_described_briefly():
    v = parse_verdict(json.dumps({"educational": list(range(10_000))}), "stop", None)
    assert v.status == "parse_error" and "a JSON array" in v.error and len(v.error) < 120
    assert "'maybe'" in parse_same('{"same": "maybe"}', "stop", None).error


def test_non_string_text_is_an_empty_reply():
    for result in readers(None):  # an engine that lost the text
        assert (result.status, result.error) == ("parse_error", "empty reply")


def test_a_malformed_server_reply_is_final_and_keeps_what_came():
    gen = Generation(text="<html>502 Bad Gateway</html>", finish_reason=MALFORMED, error="malformed reply: not JSON")
    for result in readers(gen.text, gen.finish_reason, gen.error):
        assert (result.status, result.error) == ("parse_error", "malformed reply: not JSON")
    row = generation_fields(gen, "g")
    assert row["raw_output"] == gen.text and row["finish_reason"] == MALFORMED
    assert generation_fields(Generation(finish_reason="error", error="HTTP 503: busy"), "g")["raw_output"] is None


def test_lone_surrogates_never_reach_a_row():
    """A JSON escape of half a surrogate pair decodes to a str Arrow refuses to encode, which
    failed the whole slice (and every rerun of it)."""
    reply = '{"pairs": [{"question": "What is \\ud83d?", "answer": "It is \\udc00 4."}], "reason": "\\ud800"}'
    (pair,) = parse_extraction(reply, "stop", None, L).pairs
    refined = parse_refinement('{"question": "Q \\ud83d?", "answer": "A \\ud800 4"}', "stop", None, L, "4").pairs[0]
    verdict = parse_verdict('{"educational": true, "reason": "ok \\ud800"}', "stop", None)
    gen = generation_fields(Generation(text="\ud800 raw", finish_reason="stop", error=None), "g")
    rows = [{"q": pair.question, "a": pair.answer}, {"q": refined.question, "a": refined.answer},
            {"q": verdict.reason, "a": gen["raw_output"]}]
    assert pa.Table.from_pylist(rows).num_rows == 3
    assert pair.question == "What is \ufffd?" and pair.answer == "It is \ufffd 4."
