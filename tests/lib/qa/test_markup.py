"""schema.org Q&A markup on the real wceb2026 pages, checked against an independent parse."""

from __future__ import annotations

import gzip
import html as html_lib
import json
import re
import time

import jstyleson
import lxml.html
import pytest

from tests.conftest import wceb_page, real_pages, shared
from webinstruct.lib.ingest.charset import decode_html
from webinstruct.lib.qa import markup
from webinstruct.lib.qa.markup import extract_qa_markup, extract_qa_pairs

WORDS = re.compile(r"\w+", re.UNICODE)


page = wceb_page


def words(text: str) -> str:
    return " ".join(w.lower() for w in WORDS.findall(text))


# -- an independent reading of the same markup: lxml and json only, no extruct -------------


def _is(node: dict, name: str) -> bool:
    types = node.get("@type")
    types = types if isinstance(types, list) else [types]
    return any(isinstance(t, str) and t.rsplit("/", 1)[-1] == name for t in types)


def _jsonld_questions(tree) -> list[tuple[str, bool]]:
    """(name, has an answer) of every JSON-LD Question, wherever it is nested."""
    found: list[tuple[str, bool]] = []

    def walk(node):
        if isinstance(node, list):
            for child in node:
                walk(child)
        elif isinstance(node, dict):
            if _is(node, "Question"):
                answered = bool(node.get("acceptedAnswer") or node.get("suggestedAnswer"))
                name = node.get("name") if isinstance(node.get("name"), str) else ""
                found.append((name or str(node.get("text", "")), answered))
                return
            for child in node.values():
                walk(child)

    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            walk(json.loads(script.text or "", strict=False))
        except ValueError:
            continue
    return found


def _microdata_questions(tree) -> list[tuple[str, bool]]:
    found = []
    for item in tree.xpath('//*[@itemscope][contains(@itemtype, "schema.org/Question")]'):
        names = item.xpath('.//*[@itemprop="name"]')
        name = names[0].text_content() if names else ""
        answered = bool(item.xpath('.//*[@itemprop="acceptedAnswer" or @itemprop="suggestedAnswer"]'))
        found.append((name, answered))
    return found


def parse(html: str):
    return lxml.html.fromstring(html.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8"))


def independent_questions(html: str) -> list[tuple[str, str, bool]]:
    tree = parse(html)
    return [("json-ld", *q) for q in _jsonld_questions(tree)] + [("microdata", *q) for q in _microdata_questions(tree)]


# -- real pages ---------------------------------------------------------------------------


def test_forum_page_with_qapage_microdata():
    html, url = page("1177")  # electronics.stackexchange.com: QAPage microdata, 4 answers
    result = extract_qa_markup(html, url)
    pairs = result.pairs
    assert len(pairs) == 4 and {p.syntax for p in pairs} == {"microdata"}
    assert {p.schema_type for p in pairs} == {"QAPage"}
    accepted = [p for p in pairs if p.accepted]
    assert len(accepted) == 1 and pairs[0].accepted  # the accepted answer comes first on the page
    assert accepted[0].author == "The Photon" and accepted[0].votes == 14
    assert accepted[0].answer_url == "https://electronics.stackexchange.com/a/429170"
    assert accepted[0].date_created.startswith("2019-03-26")
    # question = name + body, answer from the element's HTML: paragraphs survive
    assert pairs[0].question.startswith("How does residential electricity work?\n\nI'm trying to understand")
    assert "\n" in accepted[0].answer and "<" not in accepted[0].answer
    assert [p.position for p in pairs] == [0, 1, 2, 3]
    assert all(isinstance(p.votes, int) for p in pairs)
    assert result.errors == {}


def test_faqpage_in_jsonld():
    html, url = page("0026")  # accounting.com: FAQPage JSON-LD with 4 questions
    pairs, errors = extract_qa_pairs(html, url)
    assert [p.question for p in pairs] == [
        "Which is the best software for income tax filing?",
        "What's better than TurboTax?",
        "Is it better to use a CPA or TurboTax?",
        pairs[3].question,
    ]
    assert len(pairs) == 4 and all(p.schema_type == "FAQPage" and p.syntax == "json-ld" for p in pairs)
    assert all(p.accepted and p.answer for p in pairs)
    assert pairs[0].answer.startswith("The most popular tax software is TurboTax")
    assert errors == {}


def test_broken_jsonld_counted_and_the_rest_kept():
    html, url = page("0056")  # freightwaves.com: 5 invalid JSON-LD blocks, FAQ in microdata
    tree = parse(html)
    broken = 0
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            json.loads(script.text or "", strict=False)
        except ValueError:
            try:
                jstyleson.loads(script.text or "", strict=False)
            except ValueError:
                broken += 1
    assert broken == 5
    result = extract_qa_markup(html, url)
    assert result.errors["jsonld_invalid"] == broken
    micro = _microdata_questions(tree)
    assert len(result.pairs) == len(micro) == 4
    assert {p.syntax for p in result.pairs} == {"microdata"}


def test_injected_broken_block_does_not_hide_a_valid_one():
    html, url = page("0026")
    broken = '<script type="application/ld+json">{"@type": "FAQPage", "mainEntity": [{"@type": "Question",</script>'
    pairs, errors = extract_qa_pairs(html.replace("</head>", broken + "</head>", 1), url)
    assert len(pairs) == 4 and errors == {"jsonld_invalid": 1}


def test_coverage_against_independent_parse():
    """Share of answered JSON-LD and microdata Questions that become pairs, over all pages."""
    answered = unanswered = covered = 0
    for row in real_pages():
        raw = gzip.decompress(shared("pages", "wceb2026", row["html"]).read_bytes())
        html = decode_html(raw, None)[0]
        if "Question" not in html:
            continue
        found = independent_questions(html)
        if not found:
            continue
        produced = [words(p.question) for p in extract_qa_markup(html, row["url"]).pairs]
        for _, name, has_answer in found:
            if not has_answer:
                unanswered += 1
                continue
            answered += 1
            key = words(html_lib.unescape(name))[:80]  # some sites escape entities twice
            covered += any(key and key in q for q in produced)
    assert answered >= 300  # the corpus has a few hundred: the parse above must have found them
    assert covered / answered >= 0.95, (covered, answered, unanswered)


# -- hostile input ------------------------------------------------------------------------


def test_hostile_page_is_bounded():
    many = [{"@type": "Question", "name": f"q{i}?", "acceptedAnswer": {"@type": "Answer", "text": f"a{i}"}} for i in range(10_000)]
    deep = '{"@type": "Question", "acceptedAnswer": ' * 5_000 + "{}" + "}" * 5_000
    shallow_deep = '{"@graph": [' + '{"@type": "Thing", "about": ' * 200 + "{}" + "}" * 200 + "]}"
    giant = {
        "@type": "QAPage",
        "mainEntity": {
            "@type": "Question",
            "name": ["x" * 600_000, {"nested": 1}],
            "text": {"@value": 5},
            "acceptedAnswer": [
                {"@type": "Answer", "text": "<p>" + "y " * 300_000 + "</p>", "upvoteCount": ["9" * 40]},
                "plain answer",
                42,
                None,
            ],
            "suggestedAnswer": {"@type": "Answer", "text": ["z"], "upvoteCount": {"v": 1}, "author": [1, 2]},
        },
    }
    micro = "".join(
        f'<div itemscope itemtype="https://schema.org/Question"><span itemprop="name">m{i}?</span>'
        f'<div itemprop="acceptedAnswer" itemscope itemtype="https://schema.org/Answer">'
        f'<div itemprop="text">ma{i}</div></div></div>'
        for i in range(2_000)
    )
    nested = '<div itemscope itemtype="https://schema.org/Thing">' * 3_000 + "</div>" * 3_000
    html = (
        "<html><head>"
        f'<script type="application/ld+json">{json.dumps({"@graph": [giant]})}</script>'
        f'<script type="application/ld+json">{json.dumps(many)}</script>'
        f'<script type="application/ld+json">{deep}</script><script type="application/ld+json">{shallow_deep}</script>'
        + '<script type="application/ld+json">'
        + "[" * 10
        + "</script>"
        + f"</head><body>{micro}{nested}</body></html>"
    )
    start = time.perf_counter()
    result = extract_qa_markup(html, "https://example.org/q")
    assert time.perf_counter() - start < 60
    assert len(result.pairs) == markup.MAX_PAIRS
    assert result.errors["too_many_pairs"] >= 1
    assert result.errors["too_many_questions"] == 1 or result.errors["too_many_nodes"] == 1
    assert result.errors["jsonld_invalid"] >= 1 and result.errors["jsonld_too_deep"] == 1
    assert result.errors["too_deep"] >= 1 and result.errors["value_too_long"] >= 1
    giant_pairs = [p for p in result.pairs if p.schema_type == "QAPage"]
    assert giant_pairs and len(giant_pairs[0].question) == markup.MAX_TEXT_CHARS
    assert {p.answer for p in giant_pairs} >= {"plain answer", "z"} and result.errors["answer_wrong_type"] >= 1
    for p in result.pairs:
        assert len(p.question) <= markup.MAX_TEXT_CHARS and len(p.answer) <= markup.MAX_TEXT_CHARS
        assert p.votes is None or abs(p.votes) < 10**12


@pytest.mark.parametrize(
    "html",
    [
        "",
        "<html>",
        "schema.org application/ld+json Question itemtype typeof",
        '<script type="application/ld+json">{"@type": "Question", "name": 1, "acceptedAnswer": "x"}</script>',
        '<script type="application/ld+json">{"@type": ["Question", 3], "name": "q?", "acceptedAnswer": {"text": ["<b>a</b>"]}}</script>',
        '<script type="application/ld+json">{"@type": "DiscussionForumPosting", "text": "t"}</script>',
        '<div itemscope itemtype="http://schema.org/Question" typeof="schema:Question"><b itemprop=name>q?</b></div>',
    ],
)
def test_malformed_never_raises(html):
    result = extract_qa_markup(html, None)
    assert isinstance(result.pairs, list)


def test_wrong_types_are_coerced():
    html = (
        '<script type="application/ld+json">{"@type": "Question", "name": ["Why?", "ignored"], '
        '"acceptedAnswer": {"@type": "Answer", "text": "Because.", "upvoteCount": "12 votes", '
        '"author": [{"name": "ann"}]}}</script>'
    )
    (pair,), errors = extract_qa_pairs(html, None)
    assert (pair.question, pair.answer, pair.votes, pair.author, pair.schema_type) == ("Why?", "Because.", 12, "ann", "Question")


def test_forum_posting_is_not_a_question():
    html = (
        '<script type="application/ld+json">[{"@type": "DiscussionForumPosting", "text": "hello"},'
        '{"@type": "DiscussionForumPosting", "headline": "h?", "text": "body", '
        '"suggestedAnswer": {"@type": "Answer", "text": "reply"}}]</script>'
    )
    result = extract_qa_markup(html, None)
    assert result.counts["jsonld:DiscussionForumPosting"] == 2 and result.counts["jsonld:Question"] == 0
    assert [(p.answer, p.accepted) for p in result.pairs] == [("reply", False)]


def test_same_question_in_jsonld_and_microdata_once():
    ld = (
        '<script type="application/ld+json">{"@type": "QAPage", "mainEntity": {"@type": "Question", '
        '"name": "How to boil water?", "acceptedAnswer": {"@type": "Answer", "text": "Heat it."}}}</script>'
    )
    md = (
        '<div itemscope itemtype="https://schema.org/Question"><h1 itemprop="name">How to boil water?</h1>'
        '<div itemprop="acceptedAnswer" itemscope itemtype="https://schema.org/Answer">'
        '<p itemprop="text">Heat it.</p></div></div>'
    )
    result = extract_qa_markup(f"<html><head>{ld}</head><body>{md}</body></html>", None)
    assert len(result.pairs) == 1 and result.counts["duplicate_question"] == 1
    assert result.counts["jsonld:Question"] == result.counts["microdata:Question"] == 1


def test_no_markers_skips_parsing(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("parsed a page without markers")

    monkeypatch.setattr(markup, "parse_html", boom)
    assert extract_qa_markup("<html><body><p>What is a Question?</p></body></html>", None).pairs == []


def test_oversized_page_is_not_parsed():
    html = '<script type="application/ld+json">{"@type": "Question"}</script>' + " " * (markup.MAX_HTML_CHARS + 1)
    assert dict(extract_qa_markup(html, None).errors) == {"html_too_large": 1}
