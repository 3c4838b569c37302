"""Forum debris in answers (lib/qa/debris.py): quoted posts, `> ` lines, signatures, "Sent
from my ..." and edit stamps go, the answer's own text stays; maths that starts a line with
">" stays; an answer that is only debris is rejected with its reason, in LLM extraction and
in page markup; the real Stack Exchange answers and the shared forum pages are untouched."""

from __future__ import annotations

import gzip
import json

import pytest

from tests.conftest import shared
from webinstruct.lib.qa.debris import clean_answer
from webinstruct.lib.qa.markup import extract_qa_markup
from webinstruct.lib.qa.parse import Limits, parse_extraction

REPLY = "Yes, 6.4 is what the Ubuntu 24.04 repositories ship; use the online installer for newer versions."


@pytest.mark.parametrize("text, kinds", [
    (f"@JonB said in Which Qt6 version for Ubuntu 24.04:\nHas anybody tried the 6.8 packages?\n\n{REPLY}", ("quote",)),
    (f"@JonB said in Which Qt6 version for Ubuntu 24.04: Has anybody tried the 6.8 packages?\n{REPLY}", ("quote",)),
    (f"John wrote:\nwhat about 6.8?\n\n{REPLY}", ("quote",)),
    (f"Originally Posted by mathguy\nwhat about 6.8?\n\n{REPLY}", ("quote",)),
    (f"> what about 6.8?\n> thanks\n{REPLY}", ("quote_line", "quote_line")),
    (f"{REPLY}\n\n-- \nJohn, moderator\nwww.example.org", ("signature",)),
    (f"{REPLY}\n\nSent from my iPhone using Tapatalk", ("sent_from",)),
    (f"{REPLY}\nLast edited by admin on 2020-01-01 10:12", ("edit_stamp",)),
    (f"{REPLY}\n(edited 3 times)", ("edit_stamp",)),
])
def test_debris_goes_and_the_answer_stays(text, kinds):
    got = clean_answer(text)
    assert got.text == REPLY and got.removed == kinds


@pytest.mark.parametrize("text", [
    "We need $\\mathbf{a}^T C \\mathbf{a}\n> 0$ for every a.", ">>> import this\nThe Zen of Python",
    ">> n = 1e8; sum(rand(n,2)) / n", "x\n> 3 holds, so the answer is 5.", "Quote the formula exactly: $E = mc^2$.",
    "Edit the file as shown, then run make.", "The teacher wrote: 3 + 4 = 7 on the board.",
])
def test_maths_and_ordinary_lines_stay(text):
    assert clean_answer(text).text == text and clean_answer(text).removed == ()


def test_an_answer_that_is_only_debris_is_rejected_with_its_reason():
    reply = json.dumps({"pairs": [{"question": "Which Qt6 version should I use on Ubuntu 24.04?",
                                   "answer": "@JonB said in Which Qt6 version for Ubuntu 24.04:\nHas anybody tried 6.8?"},
                                  {"question": "Which installer gives Qt 6.8?", "answer": f"> Which one?\n{REPLY}"}]})
    parsed = parse_extraction(reply, "stop", None, Limits())
    assert [(p.answer, p.reject_reason) for p in parsed.pairs] == [("", "answer_only_forum_debris"), (REPLY, None)]
    page = ('<html><body><div itemscope itemtype="https://schema.org/QAPage"><div itemprop="mainEntity" itemscope '
            'itemtype="https://schema.org/Question"><h1 itemprop="name">Which Qt6 version for Ubuntu 24.04?</h1>'
            '<div itemprop="acceptedAnswer" itemscope itemtype="https://schema.org/Answer"><div itemprop="text">'
            '<p>&gt; Has anybody tried 6.8?</p></div></div><div itemprop="suggestedAnswer" itemscope '
            'itemtype="https://schema.org/Answer"><div itemprop="text"><p>@JonB said in Which Qt6 version for Ubuntu 24.04:</p>'
            f'<p>Has anybody tried 6.8?</p><p>{REPLY}</p></div></div></div></div></body></html>')
    result = extract_qa_markup(page, "https://forum.example.org/topic/1")
    assert [p.answer for p in result.pairs] == [REPLY]
    assert result.errors["answer_only_forum_debris"] == 1 and result.counts["debris_quote"] == 1


def test_real_answers_and_the_shared_forum_pages_are_untouched():
    answers = [json.loads(line)["A"] for line in open(shared("qa", "stackmathqa_700.jsonl"), encoding="utf-8")]
    changed = [a for a in answers if clean_answer(a).removed]
    assert changed == []
    labels = [json.loads(line) for line in open(shared("pages", "wceb2026", "labels.jsonl"), encoding="utf-8")]
    touched = 0
    answers = 0
    for row in labels:
        result = extract_qa_markup(gzip.open(shared("pages", "wceb2026", row["html"])).read().decode("utf-8", "replace"), row["url"])
        answers += len(result.pairs)
        touched += sum(v for k, v in result.counts.items() if k.startswith("debris_"))
    assert answers > 400 and touched == 0  # 429 markup answers on 68 forum and Q&A pages, none changed


def test_hostile_input_is_cleaned_in_bounded_time_and_size():
    text = "> q\n" * 200_000 + REPLY
    got = clean_answer(text)
    assert got.text.startswith("> q")  # past MAX_SCAN_CHARS the tail is kept as it is, not scanned
    assert len(got.removed) == 50_000


@pytest.mark.parametrize("text, want, kinds", [
    ("We need\n$$\na + b\n> c + d\n$$", "We need\n$$\na + b\n> c + d\n$$", ()),  # a formula line inside display maths
    ("\\[\n> x\n\\]\nok", "\\[\n> x\n\\]\nok", ()),
    ("John wrote:\n\nMy actual answer is 42.\n\nSent from my iPhone", "My actual answer is 42.", ("quote", "sent_from")),
    ("Answer:\n--\nx = 5", "Answer:\n--\nx = 5", ()),  # a rule of dashes before more maths is no signature
])
def test_what_the_review_found(text, want, kinds):
    got = clean_answer(text)
    assert (got.text, got.removed) == (want, kinds)


def test_many_quote_heads_cost_linear_work():
    text = "John wrote:\nq\n" * 20_000 + "\nreply"
    assert clean_answer(text).text.endswith("reply")
