"""Q&A-aware main text on real forum pages of wceb2026."""

from __future__ import annotations

import gzip
import json
import re

import lxml.html

from bench.extraction_quality import prf
from tests.conftest import wceb_page, real_pages, shared
from webinstruct.lib.ingest.charset import decode_html
from webinstruct.lib.ingest.qa_text import qa_main_text, with_missing_markup
from webinstruct.lib.ingest.text_extract import ExtractOptions, extract_text
from webinstruct.lib.qa.markup import extract_qa_markup

WORDS = re.compile(r"\w+", re.UNICODE)
FULL_PAGE = ExtractOptions("resiliparse", main_content=False)


page = wceb_page


def words(text: str) -> str:
    return " ".join(w.lower() for w in WORDS.findall(text))


def test_keeps_question_and_accepted_answer_drops_related_questions():
    html, url = page("1177")  # electronics.stackexchange.com
    pairs = extract_qa_markup(html, url).pairs
    accepted = next(p for p in pairs if p.accepted)
    tree = lxml.html.fromstring(html.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8"))
    related = [
        a.text_content().strip()
        for a in tree.xpath('//*[contains(@class, "related") or @id="hot-network-questions"]//a[contains(@href, "/questions/")]')
    ]
    related = [r for r in related if len(r) > 25]
    assert len(related) >= 10
    full = words(extract_text(html, url, FULL_PAGE)[1])
    assert all(words(r) in full for r in related[:10])  # the lists are in the page's text

    title, text = qa_main_text(html, url)
    got = words(text)
    assert title.startswith("How does residential electricity work")
    assert words(pairs[0].question.split("\n\n", 1)[1])[:300] in got
    assert words(accepted.answer)[:300] in got
    assert not [r for r in related if words(r) in got]
    for junk in ("hot network questions", "sign up", "add a comment", "your answer"):
        assert junk not in got


def test_pair_text_appears_once_with_markup_and_body():
    """Stack Exchange has each answer twice: microdata and post body. Output holds it once."""
    html, url = page("0172")
    result = extract_qa_markup(html, url)
    assert len(result.pairs) == 2
    for pairs in (result, result.pairs, None):
        got = words(qa_main_text(html, url, pairs)[1])
        for pair in result.pairs:
            assert got.count(words(pair.answer)[:200]) == 1


def test_discourse_accepted_answer_once_and_all_replies():
    html, url = page("0510")  # answers.netlify.com: QAPage JSON-LD (accepted answer) + posts
    result = extract_qa_markup(html, url)
    (pair,) = result.pairs
    got = words(qa_main_text(html, url, result)[1])
    assert got.count(words(pair.answer)[:120]) == 1
    assert "thanks sid m this fixed it" in got  # a reply that is not in the markup
    assert "log in" not in got and "related topics" not in got


def test_structural_thread_without_markup():
    html, url = page("0557")  # discuss.flarum.org: no schema.org markup at all
    assert "schema.org" not in html
    title, text = qa_main_text(html, url)
    truth = next(r for r in real_pages() if r["file_id"] == "0557")["main_content"]
    t, g = set(words(truth).split()), set(words(text).split())
    assert len(t & g) / len(t) > 0.9 and len(t & g) / len(g) > 0.8


def test_not_qa_pages_fall_back():
    for file_id in ("0001", "0026", "0037"):  # an article; articles with FAQ markup (JSON-LD, microdata)
        html, url = page(file_id)
        assert qa_main_text(html, url) is None
    assert qa_main_text("", None) is None
    assert qa_main_text("<html><body><div class=cooked></div></body></html>", None) is None


def test_better_than_resiliparse_on_forum_pages():
    rows = real_pages("forum")
    base = qa = 0.0
    for row in rows:
        html = decode_html(gzip.decompress(shared("pages", "wceb2026", row["html"]).read_bytes()), None)[0]
        ref = extract_text(html, row["url"], ExtractOptions("resiliparse", main_content=True))[1]
        res = qa_main_text(html, row["url"])
        base += prf(ref, row["main_content"])[2]
        qa += prf(res[1] if res else ref, row["main_content"])[2]
    assert qa / len(rows) >= base / len(rows) + 0.04


# --- what the markup answers reaches the text ------------------------------------------------------------------

FAQ_ANSWERS = [
    "Most orders leave our warehouse within two working days and arrive three to five days later.",
    "Yes, unworn items can be returned within thirty days for a full refund of the price paid.",
]


def product_page_with_collapsed_faq() -> str:
    """A shop page whose FAQ answers sit in collapsed accordion panels, as many themes render them."""
    faq = {"@context": "https://schema.org", "@type": "FAQPage", "mainEntity": [
        {"@type": "Question", "name": "How long does delivery take?",
         "acceptedAnswer": {"@type": "Answer", "text": FAQ_ANSWERS[0]}},
        {"@type": "Question", "name": "Can I return the boots?",
         "acceptedAnswer": {"@type": "Answer", "text": FAQ_ANSWERS[1]}},
    ]}
    panels = "".join(
        f'<div class="accordion-item"><button class="accordion-button collapsed">{q["name"]}</button>'
        f'<div class="accordion-collapse collapse" hidden><div class="accordion-body">{q["acceptedAnswer"]["text"]}</div></div></div>'
        for q in faq["mainEntity"])
    prose = "<p>" + "These leather boots are stitched by hand and resoled for years of wear in any weather. " * 4 + "</p>"
    return (f'<!DOCTYPE html><html><head><title>Boots</title><script type="application/ld+json">{json.dumps(faq)}</script>'
            f'</head><body><nav><a href="/">Shop</a></nav><main><h1>Walking boots</h1>{prose}'
            f'<section class="faq"><h2>Questions</h2><div class="accordion">{panels}</div></section></main></body></html>')


def test_collapsed_faq_answers_reach_the_text_once():
    html = product_page_with_collapsed_faq()
    markup = extract_qa_markup(html, "https://shop.example/boots")
    _, text = extract_text(html, None, ExtractOptions())
    completed = with_missing_markup(text, markup, 200_000)
    for answer in FAQ_ANSWERS:
        assert words(completed).count(words(answer)) == 1
    assert completed.startswith(text)
    assert with_missing_markup(completed, markup, 200_000) == completed  # nothing twice


def test_nothing_is_appended_past_max_chars_or_without_markup():
    html = product_page_with_collapsed_faq()
    markup = extract_qa_markup(html, None)
    _, text = extract_text(html, None, ExtractOptions())
    assert with_missing_markup(text, markup, len(text) + 10) == text
    assert with_missing_markup(text, None, 200_000) == text
