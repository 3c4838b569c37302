"""Which bytes fetch asks for: records merged into spans, spans packed into tasks, and the
index values no request is ever made for."""

from __future__ import annotations

from webinstruct.lib.ingest.ranges import Span, Wanted, merge, pack, refusal


def test_close_records_share_a_request_and_far_ones_do_not():
    records = [Wanted(0, 100), Wanted(100, 50), Wanted(200, 10), Wanted(10_000, 30)]
    spans = merge(records, gap=60, max_span=1_000)
    assert [(s.start, s.end) for s in spans] == [(0, 210), (10_000, 10_030)]
    assert [len(s.records) for s in spans] == [3, 1]
    assert [(s.start, s.end) for s in merge(records, gap=0, max_span=1_000)] == [(0, 150), (200, 210), (10_000, 10_030)]


def test_a_span_stays_within_its_cap_and_a_record_is_never_split():
    records = [Wanted(i * 100, 100) for i in range(10)]
    spans = merge(records, gap=0, max_span=350)
    assert [(s.start, s.end) for s in spans] == [(0, 300), (300, 600), (600, 900), (900, 1000)]
    huge = merge([Wanted(0, 5_000), Wanted(5_000, 10)], gap=0, max_span=1_000)
    assert [(s.start, s.end) for s in huge] == [(0, 5_000), (5_000, 5_010)]


def test_repeated_and_overlapping_records_are_read_once():
    spans = merge([Wanted(50, 10), Wanted(0, 100), Wanted(50, 10)], gap=0, max_span=1_000)
    assert [(s.start, s.end, len(s.records)) for s in spans] == [(0, 100, 2)]


def test_tasks_hold_whole_spans_within_the_budget():
    files = {"b": [Span(0, 400), Span(1_000, 1_100)], "a": [Span(0, 300)], "c": [Span(0, 900)]}
    tasks = pack(files, task_bytes=500)
    assert [[(name, s.start) for name, s in task] for task in tasks] == [[("a", 0)], [("b", 0), ("b", 1_000)], [("c", 0)]]
    assert pack({}, 100) == []


def test_offsets_and_lengths_no_request_is_made_for():
    assert refusal(Wanted(-1, 10), 100) == "negative offset -1"
    assert refusal(Wanted(0, 0), 100) == "length 0"
    assert "over fetch.max_record_bytes (100)" in refusal(Wanted(0, 101), 100)
    assert refusal(Wanted(5, 100), 100) is None
