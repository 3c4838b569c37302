"""Question-answer pairs from schema.org markup (JSON-LD, microdata, RDFa).

Q&A sites and FAQ sections often describe their content as schema.org `QAPage`,
`FAQPage` and `Question` nodes: a free, author-provided split into question, accepted
answer and other answers, with votes, authors and dates. We read it with extruct, which
parses all three syntaxes, and turn each answer into a row.

Everything here comes from a page that may be hostile or simply broken, so nothing
raises: every limit (HTML size, nodes visited, nesting depth, questions, pairs, characters
per text) is enforced, and each problem is counted in `MarkupResult.errors` instead.
Question and answer HTML becomes text through the same `extract_text` as the main text,
so formulas, lists and code read the same in pairs and in documents.
"""

from __future__ import annotations

import html as html_lib
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import extruct
import lxml.html
from extruct.jsonld import JsonLdExtractor
from extruct.uniform import _umicrodata_microformat
from extruct.utils import parse_html, parse_xmldom_html
from extruct.w3cmicrodata import MicrodataExtractor

from webinstruct.lib.ingest.text_extract import ExtractOptions, extract_text
from webinstruct.lib.page_markers import present, watch
from webinstruct.lib.qa.debris import clean_answer

SYNTAXES = ("json-ld", "microdata", "rdfa")
MAX_HTML_CHARS = 8_000_000  # larger pages are not parsed for markup at all
MAX_JSONLD_CHARS = 2_000_000  # per <script> block
MAX_NODES = 20_000  # dicts and lists visited per page, all syntaxes together
MAX_DEPTH = 24  # nesting depth of a markup tree that is still followed
MAX_QUESTIONS = 500  # Question nodes read per page
MAX_ANSWERS = 200  # answers read per Question
MAX_PAIRS = 200  # pairs returned per page
MAX_FRAGMENT_CHARS = 200_000  # HTML handed to the text extractor per question or answer
MAX_TEXT_CHARS = 20_000  # characters kept per question or answer
MAX_FIELD_CHARS = 2_000  # urls, names, dates

TEXT_OPTIONS = ExtractOptions(extractor="resiliparse", main_content=False)
QUESTION_TYPES = {"Question"}
CONTAINER_TYPES = {"QAPage", "FAQPage"}
FORUM_POST = "DiscussionForumPosting"
# Cheap pre-checks: without one of these substrings there is no Q&A markup to find.
TYPE_MARKERS = watch("Question", "QAPage", "FAQPage", FORUM_POST)
ANSWER_MARKERS = watch("acceptedAnswer", "suggestedAnswer")
SCHEMA_PREFIX = re.compile(r"^https?://(www\.)?schema\.org/", re.IGNORECASE)
HTML_TAG = re.compile(r"<(?:[a-zA-Z][a-zA-Z0-9]*[\s/>]|/[a-zA-Z]|!--)")
BLOCK_TAG = re.compile(r"<(?:p|br|div|li|pre|h[1-6]|table|blockquote)[\s/>]", re.IGNORECASE)
SPACES = re.compile(r"[ \t\r\f\v]+")
BLANK_LINES = re.compile(r"\n\s*\n+")
# HTML attribute names are case-insensitive (React writes itemType) and values may hold
# character references (type="application/ld&#x2B;json"): the parsers accept both.
JSONLD_MARKER = re.compile(r"application/ld(?:\+|&#x0*2b;|&#0*43;|&plus;)json", re.IGNORECASE)
SYNTAX_MARKER = re.compile(r"itemtype|typeof|application/ld(?:\+|&#x0*2b;|&#0*43;|&plus;)json", re.IGNORECASE)
MICRODATA_QA = re.compile(r"itemtype=[\"']?[^\"'>]*schema\.org/(Question|QAPage|FAQPage)\b", re.IGNORECASE)
MICRODATA_FORUM_POST = re.compile(r"itemtype=[\"']?[^\"'>]*schema\.org/DiscussionForumPosting\b", re.IGNORECASE)
RDFA_QA = re.compile(r"typeof=[\"'][^\"']*(Question|QAPage|FAQPage)", re.IGNORECASE)
VOTES = re.compile(r"^[+-]?\d{1,12}")

# extruct logs every failure with a traceback; we count them instead.
logging.getLogger("extruct").setLevel(logging.CRITICAL)
logging.getLogger("rdflib").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class QAPair:
    position: int  # order on the page, 0-based
    question: str
    answer: str
    accepted: bool
    votes: int | None
    schema_type: str  # QAPage, FAQPage or Question (a Question outside both)
    syntax: str  # json-ld, microdata or rdfa
    question_url: str | None
    answer_url: str | None
    author: str | None  # the answer's author
    date_created: str | None  # the answer's date


@dataclass(frozen=True)
class MarkupAnswer:
    text: str
    accepted: bool
    votes: int | None
    url: str | None
    author: str | None
    date_created: str | None
    line: int  # source line of the answer's element where known, for page order


@dataclass(frozen=True)
class MarkupQuestion:
    text: str
    schema_type: str
    syntax: str
    url: str | None
    answers: tuple[MarkupAnswer, ...]
    line: int


@dataclass
class MarkupResult:
    pairs: list[QAPair] = field(default_factory=list)
    questions: list[MarkupQuestion] = field(default_factory=list)  # page order, deduplicated
    counts: Counter = field(default_factory=Counter)  # nodes seen, e.g. {"jsonld:Question": 3}
    errors: Counter = field(default_factory=Counter)  # problems, e.g. {"jsonld_invalid": 1}


def has_markup_markers(html: str) -> bool:
    """True when the page may hold Q&A markup; a substring scan, far cheaper than parsing."""
    found = present(html)
    return any(m in found for m in TYPE_MARKERS) and SYNTAX_MARKER.search(html) is not None


def extract_qa_markup(html: str, url: str | None) -> MarkupResult:
    """Questions and answer pairs of a page's schema.org markup; never raises."""
    result = MarkupResult()
    try:
        _extract(html, url, result)
    except Exception as exc:  # noqa: BLE001 - a page must never break the caller
        result.errors[f"unexpected_{type(exc).__name__}"] += 1
    return result


def extract_qa_pairs(html: str, url: str | None) -> tuple[list[QAPair], dict[str, int]]:
    """(pairs, problem counts) for callers that need nothing else."""
    result = extract_qa_markup(html, url)
    return result.pairs, dict(result.errors)


class _Budget:
    """Shared limits for one page: nodes visited and questions read."""

    def __init__(self) -> None:
        self.nodes = 0
        self.questions = 0


def _extract(html: str, url: str | None, result: MarkupResult) -> None:
    if not isinstance(html, str) or not has_markup_markers(html):
        return
    if len(html) > MAX_HTML_CHARS:
        result.errors["html_too_large"] += 1
        return
    syntaxes = [s for s in SYNTAXES if _syntax_present(html, s)]
    if "microdata" not in syntaxes and FORUM_POST in present(html):  # counted without parsing
        posts = len(MICRODATA_FORUM_POST.findall(html))
        if posts:
            result.counts["microdata:DiscussionForumPosting"] += posts
    if not syntaxes:
        return
    tree = None
    if "json-ld" in syntaxes or "microdata" in syntaxes:
        try:
            tree = parse_html(html.encode("utf-8", "replace"), encoding="UTF-8")
        except Exception:  # noqa: BLE001
            result.errors["html_unparsable"] += 1
    budget = _Budget()
    found: list[MarkupQuestion] = []
    if tree is not None and "json-ld" in syntaxes:
        for node, line in _jsonld_items(tree, result):
            _walk(node, "json-ld", None, 0, line, budget, found, result, url)
    if tree is not None and "microdata" in syntaxes:
        for node in _microdata_items(tree, url, result):
            _walk(node, "microdata", None, 0, None, budget, found, result, url)
    if "rdfa" in syntaxes:
        for node in _rdfa_items(html, url, result):
            _walk(node, "rdfa", None, 0, None, budget, found, result, url)
    _finish(found, result)


def _syntax_present(html: str, syntax: str) -> bool:
    if syntax == "json-ld":
        return JSONLD_MARKER.search(html) is not None
    if syntax == "microdata":
        # Forum posts without answers give no pairs: not worth parsing a whole thread for.
        found = present(html)
        return MICRODATA_QA.search(html) is not None or (
            FORUM_POST in found and any(m in found for m in ANSWER_MARKERS))
    # RDFa goes through pyRdfa, the slowest of the three: only when a Q&A type is in a typeof.
    return RDFA_QA.search(html) is not None


def _jsonld_items(tree, result: MarkupResult):
    """Each JSON-LD block on its own, so one broken block does not hide the others."""
    extractor = JsonLdExtractor()
    for script in extractor._xp_jsonld(tree):
        text = script.text or ""
        if len(text) > MAX_JSONLD_CHARS:
            result.errors["jsonld_too_large"] += 1
            continue
        try:
            items = list(extractor._extract_items(script))
        except RecursionError:
            result.errors["jsonld_too_deep"] += 1
            continue
        except Exception:  # noqa: BLE001 - invalid JSON, even for extruct's lenient fallback
            result.errors["jsonld_invalid"] += 1
            continue
        for item in items:
            yield item, script.sourceline or 0


def _microdata_items(tree, url: str | None, result: MarkupResult) -> list:
    try:
        raw = MicrodataExtractor(add_html_node=True).extract_items(tree, base_url=url)
        return _umicrodata_microformat(list(raw), "http://schema.org")
    except RecursionError:
        result.errors["microdata_too_deep"] += 1
    except Exception:  # noqa: BLE001
        result.errors["microdata_invalid"] += 1
    return []


def _rdfa_items(html: str, url: str | None, result: MarkupResult) -> list:
    """RDFa comes out of extruct as flattened, expanded JSON-LD: rebuild the nesting."""
    try:
        data = extruct.extract(html, base_url=url, syntaxes=["rdfa"], uniform=True, errors="strict")
        nodes = [n for n in data.get("rdfa", []) if isinstance(n, dict)]
    except RecursionError:
        result.errors["rdfa_too_deep"] += 1
        return []
    except Exception:  # noqa: BLE001
        result.errors["rdfa_invalid"] += 1
        return []
    by_id = {n["@id"]: n for n in nodes[:MAX_NODES] if isinstance(n.get("@id"), str)}
    return [_compact_rdfa(n, by_id, 0, set()) for n in nodes[:MAX_NODES] if _types(n) & (QUESTION_TYPES | CONTAINER_TYPES)]


def _compact_rdfa(node: Any, by_id: dict, depth: int, seen: set) -> Any:
    if depth > MAX_DEPTH:
        return None
    if isinstance(node, list):
        values = [_compact_rdfa(v, by_id, depth + 1, seen) for v in node[:MAX_ANSWERS]]
        values = [v for v in values if v is not None]
        return values[0] if len(values) == 1 else values
    if not isinstance(node, dict):
        return node
    if "@value" in node:
        return node["@value"]
    ref = node.get("@id")
    if len(node) == 1 and isinstance(ref, str):
        if ref in seen or ref not in by_id:
            return ref
        node = by_id[ref]
        seen = seen | {ref}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "@type":
            types = value if isinstance(value, list) else [value]
            out["@type"] = [SCHEMA_PREFIX.sub("", t) for t in types if isinstance(t, str)]
        elif key.startswith("@"):
            out[key] = value
        else:
            out[SCHEMA_PREFIX.sub("", key)] = _compact_rdfa(value, by_id, depth + 1, seen)
    return out


def _types(node: dict) -> set[str]:
    raw = node.get("@type")
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        return set()
    return {SCHEMA_PREFIX.sub("", t) for t in raw[:20] if isinstance(t, str)}


def _walk(
    node: Any,
    syntax: str,
    container: str | None,
    depth: int,
    line: int | None,
    budget: _Budget,
    found: list,
    result: MarkupResult,
    url: str | None,
) -> None:
    """Depth-first over dicts and lists, reading each Question where it is nested."""
    budget.nodes += 1
    if budget.nodes > MAX_NODES:
        if budget.nodes == MAX_NODES + 1:
            result.errors["too_many_nodes"] += 1
        return
    if depth > MAX_DEPTH:
        result.errors["too_deep"] += 1
        return
    if isinstance(node, list):
        for child in node:
            _walk(child, syntax, container, depth + 1, line, budget, found, result, url)
        return
    if not isinstance(node, dict):
        return
    types = _types(node)
    prefix = syntax.replace("-", "")
    for t in types & (CONTAINER_TYPES | {FORUM_POST}):
        result.counts[f"{prefix}:{t}"] += 1
    if types & CONTAINER_TYPES:
        container = "QAPage" if "QAPage" in types else "FAQPage"
    is_question = bool(types & QUESTION_TYPES)
    forum_with_answers = FORUM_POST in types and ("acceptedAnswer" in node or "suggestedAnswer" in node)
    if is_question or forum_with_answers:
        if is_question:
            result.counts[f"{prefix}:Question"] += 1
        budget.questions += 1
        if budget.questions > MAX_QUESTIONS:
            if budget.questions == MAX_QUESTIONS + 1:
                result.errors["too_many_questions"] += 1
            return
        question = _read_question(node, syntax, container or "Question", line, result, url)
        if question is not None:
            found.append(question)
        return
    for key, child in node.items():
        if key == "htmlNode" or (isinstance(key, str) and key.startswith("@") and key != "@graph"):
            continue
        if isinstance(child, (dict, list)):
            _walk(child, syntax, container, depth + 1, line, budget, found, result, url)


def _read_question(
    node: dict, syntax: str, schema_type: str, line: int | None, result: MarkupResult, url: str | None
) -> MarkupQuestion | None:
    name = _plain(_scalar(node.get("name"), result), result)
    body = _html_text(node, "text", result, url)
    if name and body:
        n, b = _norm(name), _norm(body)
        text = body if b.startswith(n.rstrip("?.!: ")) or n == b else f"{name}\n\n{body}"[:MAX_TEXT_CHARS]
    else:
        text = name or body
    answers: list[MarkupAnswer] = []
    for key, accepted in (("acceptedAnswer", True), ("suggestedAnswer", False)):
        raw = node.get(key)
        items = raw if isinstance(raw, list) else [raw] if raw is not None else []
        if len(items) > MAX_ANSWERS:
            result.errors["too_many_answers"] += 1
            items = items[:MAX_ANSWERS]
        for item in items:
            answer = _read_answer(item, accepted, result, url)
            if answer is not None:
                answers.append(answer)
    if syntax == "microdata":
        answers.sort(key=lambda a: a.line)
    if not text:
        result.errors["question_without_text"] += 1
        return None
    if not answers:
        result.errors["question_without_answer"] += 1
    q_line = line if line is not None else _line(node)
    return MarkupQuestion(
        text=text, schema_type=schema_type, syntax=syntax, url=_field(node.get("url"), result), answers=tuple(answers), line=q_line
    )


def _without_debris(text: str, result: MarkupResult) -> str:
    """The answer without quoted posts, signatures and stamps (lib/qa/debris.py), counted;
    "" when nothing else was there (counted as an error: the answer is dropped)."""
    cleaned = clean_answer(text)
    for kind in cleaned.removed:
        result.counts[f"debris_{kind}"] += 1
    if cleaned.removed and not cleaned.text.strip():
        result.errors["answer_only_forum_debris"] += 1
        return ""
    return cleaned.text


def _read_answer(item: Any, accepted: bool, result: MarkupResult, url: str | None) -> MarkupAnswer | None:
    if isinstance(item, str):  # a bare text instead of an Answer node
        text = _plain(item[:MAX_FRAGMENT_CHARS], result, url)
        text = _without_debris(text, result) if text else text
        return MarkupAnswer(text, accepted, None, None, None, None, 0) if text else None
    if not isinstance(item, dict):
        result.errors["answer_wrong_type"] += 1
        return None
    text = _html_text(item, "text", result, url)
    if not text:
        result.errors["answer_without_text"] += 1
        return None
    text = _without_debris(text, result)
    if not text:
        return None
    author = item.get("author")
    if isinstance(author, list):
        author = author[0] if author else None
    if isinstance(author, dict):
        author = author.get("name")
    date = item.get("dateCreated") or item.get("datePublished")
    return MarkupAnswer(
        text=text,
        accepted=accepted,
        votes=_votes(item.get("upvoteCount")),
        url=_field(item.get("url"), result),
        author=_field(author, result),
        date_created=_field(date, result),
        line=_line(item),
    )


def _line(node: dict) -> int:
    element = node.get("htmlNode")
    return getattr(element, "sourceline", None) or 0


def _html_text(node: dict, key: str, result: MarkupResult, url: str | None) -> str:
    """A property's text; for microdata from the element's own HTML, so markup survives."""
    element = node.get("htmlNode")
    if element is not None:
        prop = _own_property(element, key)
        if prop is not None:
            try:
                fragment = lxml.html.tostring(prop, encoding="unicode")
            except Exception:  # noqa: BLE001
                fragment = None
            if fragment:
                return _to_text(fragment, result, url)
    value = _scalar(node.get(key), result)
    return _plain(value, result, url) if value else ""


def _own_property(element, key: str):
    """The first descendant with itemprop=key whose nearest itemscope is `element`."""
    try:
        candidates = element.xpath(f".//*[contains(concat(' ', normalize-space(@itemprop), ' '), ' {key} ')]")
    except Exception:  # noqa: BLE001
        return None
    for candidate in candidates[:MAX_ANSWERS]:
        parent = candidate.getparent()
        while parent is not None and parent is not element and parent.get("itemscope") is None:
            parent = parent.getparent()
        if parent is element:
            return candidate
    return None


def _scalar(value: Any, result: MarkupResult) -> str:
    """A string from a value that should be one but may be a list, a dict or a number."""
    for _ in range(4):
        if isinstance(value, list):
            value = next((v for v in value if v not in (None, "", [], {})), None)
        elif isinstance(value, dict):
            value = value.get("@value", value.get("text", value.get("name")))
        else:
            break
    if value is None or isinstance(value, (list, dict)):
        return ""
    if not isinstance(value, str):
        if isinstance(value, bool):
            return ""
        value = str(value)
    if len(value) > MAX_FRAGMENT_CHARS:
        result.errors["value_too_long"] += 1
        value = value[:MAX_FRAGMENT_CHARS]
    return value


def _field(value: Any, result: MarkupResult) -> str | None:
    text = _scalar(value, result).strip()
    return text[:MAX_FIELD_CHARS] or None


def _votes(value: Any) -> int | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return int(value) if abs(value) < 1e12 else None
    match = VOTES.match(str(value).strip()[:20])
    return int(match.group(0)) if match else None


def _plain(value: str, result: MarkupResult, url: str | None = None) -> str:
    """A property value that may be plain text or HTML (JSON-LD `text` is often HTML)."""
    if not value:
        return ""
    if HTML_TAG.search(value):
        if not BLOCK_TAG.search(value):  # paragraphs written as newlines around inline HTML
            value = value.replace("\n", "<br>")
        return _to_text(value, result, url)
    if "&" in value:
        value = html_lib.unescape(value)
    return _clean(value)


def _to_text(fragment: str, result: MarkupResult, url: str | None) -> str:
    try:
        _, text = extract_text(fragment[:MAX_FRAGMENT_CHARS], url, TEXT_OPTIONS)
    except Exception:  # noqa: BLE001
        result.errors["text_extract_failed"] += 1
        return ""
    return _clean(text)


def _clean(text: str) -> str:
    lines = [SPACES.sub(" ", line).strip() for line in text.split("\n")]
    text = BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    return text[:MAX_TEXT_CHARS]


def _norm(text: str) -> str:
    return " ".join(text.lower().split())[:300]


def _finish(found: list[MarkupQuestion], result: MarkupResult) -> None:
    """Page order, one copy of a Question present in several syntaxes, bounded pairs."""
    seen_questions: set[str] = set()
    seen_pairs: set[tuple[str, str]] = set()
    for question in sorted(found, key=lambda q: q.line):  # stable: syntax order breaks ties
        key = _norm(question.text)
        if key in seen_questions:
            result.counts["duplicate_question"] += 1
            continue
        seen_questions.add(key)
        result.questions.append(question)
        for answer in question.answers:
            pair_key = (key, _norm(answer.text))
            if pair_key in seen_pairs:
                continue
            seen_pairs.add(pair_key)
            if len(result.pairs) >= MAX_PAIRS:
                result.errors["too_many_pairs"] += 1
                return
            result.pairs.append(
                QAPair(
                    position=len(result.pairs),
                    question=question.text,
                    answer=answer.text,
                    accepted=answer.accepted,
                    votes=answer.votes,
                    schema_type=question.schema_type,
                    syntax=question.syntax,
                    question_url=question.url,
                    answer_url=answer.url,
                    author=answer.author,
                    date_created=answer.date_created,
                )
            )
