"""PII rules (lib/pii.py): planted values in real pairs are found per type, the real maths
sets stay untouched, numbers that only look like personal data are left alone, and hostile
input costs work linear in its length."""

from __future__ import annotations

import json
from collections import Counter

import phonenumbers
import pytest

from tests.conftest import shared
from tests.planted_pii import planted
from webinstruct.lib import pii
from webinstruct.lib.math_spans import math_spans
from webinstruct.lib.pii import TYPES, find, redact


def test_planted_values_are_found_per_type():
    hit, total = Counter(), Counter()
    for item in planted():
        text = item[item["field"]]
        out, counts = redact(text)
        total[item["type"]] += 1
        gone = item["value"] not in out if item["type"] != "SECRET" else True  # a link keeps its address, loses its secret
        hit[item["type"]] += gone and counts[item["type"]] >= 1 and f"<{item['type']}>" in out
    recall = {t: hit[t] / total[t] for t in TYPES}
    print("recall per type:", recall)
    assert set(total) == set(TYPES) and min(total.values()) >= 30
    assert all(r >= 0.95 for r in recall.values()), recall


def _jsonl(*parts):
    with open(shared(*parts), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.mark.parametrize("name, parts, q, a", [
    ("stackexchange", ("qa", "stackmathqa_700.jsonl"), "Q", "A"),
    ("gsm8k_train", ("benchmarks", "gsm8k", "train.jsonl"), "question", "answer"),
    ("math500", ("benchmarks", "math", "math500_test.jsonl"), "problem", "solution"),
])
def test_real_maths_pairs_are_almost_never_touched(name, parts, q, a):
    rows = _jsonl(*parts)
    touched = [r for r in rows if find(r[q]) or find(r[a])]
    print(f"{name}: {len(touched)} of {len(rows)} pairs touched")
    assert len(touched) <= 0.005 * len(rows)


@pytest.mark.parametrize("text", [
    "The screen is 1920 x 1080 pixels and the year was 2019.", "ISBN 978-0-306-40615-7", "pi = 3.14159265358979",
    "Between 2024-2025 the count rose from 28980-18480 to 10500.", "The sequence 1 2 3 4 5 6 7 8 continues.",
    "Dated 2023-01-15 and 12.05.2023.", "Solve $x = 555-1234$ for nothing.", "$$ 4111\\,1111\\,1111\\,1111 $$",
    "the ratio 1:2:3:4 and a::b", "Version 1.2.3.4000 of the library", "3 + 4 = 7 and 650 253 0000 = n", "n = 6502530000",
    "1234567890123456 has sixteen digits", "f(x) = x^2 + 2x + 1, with 10-20 samples",
])
def test_numbers_that_are_not_personal_data_stay(text):
    assert find(text) == []


def test_typed_placeholders_and_types_filter():
    text = "Mail bob@example.org or call +1 (650) 253-0000; server 192.168.1.20."
    out, counts = redact(text)
    assert out == "Mail <EMAIL> or call <PHONE>; server <IP_ADDRESS>."
    assert counts == Counter({"EMAIL": 1, "PHONE": 1, "IP_ADDRESS": 1})
    only_mail, counts = redact(text, frozenset({"EMAIL"}))
    assert only_mail.startswith("Mail <EMAIL> or call +1 (650)") and counts == Counter({"EMAIL": 1})
    assert redact("https://alice:hunter2@git.example.com/r.git")[0] == "https://<SECRET>@git.example.com/r.git"
    assert redact(None) == (None, Counter()) and redact("") == ("", Counter())
    # a kind that is not looked for never hides one that is
    assert redact("https://x.org/?token=abc:bob@example.org", frozenset({"EMAIL"}))[1] == Counter({"EMAIL": 1})


def test_formulas_are_found_in_one_pass():
    text = "a $x$ b $$y\nz$$ c \\(q\\) d \\[r\\] $unclosed\nline $k$"
    spans = math_spans(text)
    assert [text[a:b] for a, b in spans] == ["$x$", "$$y\nz$$", "\\(q\\)", "\\[r\\]", "$k$"]


@pytest.mark.parametrize("unit", ["1", "@", "1-", "a@", "$", "1.", "a:", "12 ", "+1 ", "(1) ", "a=b@c.de ", "\\[x", "$$"])
def test_hostile_input_costs_work_linear_in_its_length(unit, monkeypatch):
    """A megabyte of one repeated pattern: phone validations grow with the length, at most
    one per 7 characters, and the output is as expected (timings are in bench/pii.py)."""
    calls = Counter()
    real = phonenumbers.parse

    def counting(*args, **kwargs):
        calls["parse"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(pii.phonenumbers, "parse", counting)
    text = unit * ((1 << 20) // len(unit))
    out, counts = redact(text)
    assert calls["parse"] <= len(text) / 7
    if unit in ("1", "@", "$", "1.", "a:"):
        assert out == text and not counts
    if unit == "a=b@c.de ":
        assert counts == Counter({"EMAIL": len(text) // len(unit)})
