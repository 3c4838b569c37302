"""Main text of Q&A and forum pages: the question and the answers, nothing around them.

General main-content extractors treat a thread like an article and keep its chrome: vote
counters, "related" and "hot network questions" lists, sign-up boxes, reply forms. On
such pages the posts themselves are well delimited, by schema.org markup
(lib/qa/markup.py) and by the post-body elements that forum and Q&A engines share
(Stack Exchange, Discourse, phpBB, vBulletin, XenForo, Invision, MyBB, Flarum, Vanilla,
Reddit- and HN-like threads). `qa_main_text` keeps those posts in page order and returns
None on any other page, so the caller falls back to its usual extractor.

Every text goes through `extract_text` (no main-content pruning on a single post), so
posts read the same as the rest of the corpus. Markup and structure are merged so that a
post present in both appears once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from resiliparse.parse.html import HTMLTree

from webinstruct.lib.ingest.text_extract import ExtractOptions, extract_text
from webinstruct.lib.page_markers import present, watch
from webinstruct.lib.qa.markup import MarkupResult, QAPair, extract_qa_markup, has_markup_markers

TEXT_OPTIONS = ExtractOptions(extractor="resiliparse", main_content=False)
MAX_POSTS = 500  # post bodies read per page
MAX_POST_HTML = 500_000  # characters of one post's HTML handed to the extractor
MIN_TEXT_CHARS = 80  # less than this from the posts: not a thread we can read, fall back

# Post bodies of common forum and Q&A engines, by the class names and attributes they
# render; one selector list, matched in document order, outermost match kept.
POST_BODY_SELECTORS = ", ".join(
    [
        ".js-post-body",
        ".post-text",
        ".s-prose",  # Stack Exchange / Stack Overflow engine
        ".cooked",
        "[itemprop=text]",  # Discourse, and any schema.org post text
        ".bbWrapper",  # XenForo
        ".postbody .content",
        "[id^=post_message_]",
        ".js-post__content-text",
        ".postcontent",  # phpBB, vBulletin
        "[data-role=commentContent]",  # Invision
        ".post_body",
        ".Post-body",
        ".Message.userContent",  # MyBB, Flarum, Vanilla
        "[itemprop=articleBody]",
        "[itemprop=commentText]",  # schema.org posts (checked below)
        ".commtext",
        ".usertext-body",
        "[slot=text-body]",  # HN, old and new Reddit
        ".msg_text",  # GameFAQs-style message boards (the text, not the signature)
    ]
)
# Q&A or forum types in markup: the page is read from its posts and markup.
QA_MARKUP_MARKERS = watch("QAPage", "DiscussionForumPosting", "schema.org/Question")
# Substrings that must be present before the page is parsed at all.
STRUCTURE_MARKERS = watch(
    "js-post-body",
    "post-text",
    "s-prose",
    "cooked",
    'itemprop="text"',
    "itemprop=text",
    "bbWrapper",
    "postbody",
    "post_message_",
    "js-post__content-text",
    "postcontent",
    "commentContent",
    "post_body",
    "Post-body",
    "userContent",
    "commtext",
    "usertext-body",
    "text-body",
    "DiscussionForumPosting",
    "msg_text",
)
# articleBody is every news article's body and blogs mark their comments as Comment:
# schema.org post text counts only inside a forum post, question, answer, or a comment
# that is not under an article (a blog's comment section is not the page's main text).
FORUM_ITEM = re.compile(r"schema\.org/(DiscussionForumPosting|Comment|Answer|Question)\b")
ARTICLE_ITEM = re.compile(r"schema\.org/(Article|Blog|BlogPosting|NewsArticle|Report|WebPage|CreativeWork)\b")
# Inside a post: signatures, edit notes, "click to expand" and quote toggles, vote widgets.
POST_NOISE = ", ".join(
    [
        "script:not([type^='math/tex'])",  # TeX in math/tex scripts is a formula (lib.ingest.formulas)
        "style",
        "noscript",
        "form",
        "button",
        ".signature",
        ".post-signature",
        ".bbCodeBlock-expandLink",
        ".js-vote-count",
        ".votecell",
        ".js-post-menu",
        ".post-menu",
        ".message-signature",
        ".post-controls",
    ]
)
WORD = re.compile(r"\w+", re.UNICODE)
SPACES = re.compile(r"[ \t\r\f\v]+")
BLANK_LINES = re.compile(r"\n\s*\n+")


def looks_like_qa(html: str) -> bool:
    """Cheap check for Q&A or forum markup or post-body markers in the raw HTML."""
    found = present(html)
    return _qa_markup_markers(html) or any(m in found for m in STRUCTURE_MARKERS)


def qa_main_text(
    html: str,
    url: str | None,
    pairs: MarkupResult | Sequence[QAPair] | None = None,
) -> tuple[str, str] | None:
    """(title, text) of a Q&A or forum page, or None when the page does not look like one."""
    found = qa_blocks(html, url, pairs)
    if found is None:
        return None
    title, blocks = found
    text = "\n\n".join(blocks).strip()
    if len(text) < MIN_TEXT_CHARS:
        return None
    return title, text


def qa_blocks(
    html: str,
    url: str | None,
    pairs: MarkupResult | Sequence[QAPair] | None = None,
) -> tuple[str, list[str]] | None:
    """(title, posts in page order) of a Q&A or forum page; None when it does not look like one."""
    if not isinstance(html, str) or not looks_like_qa(html):
        return None
    try:
        tree = HTMLTree.parse(html)
        posts = _post_blocks(tree, url)
        # Markup costs a second (lxml) parse: read it when the caller has it already, or
        # when the structure alone does not show a question with an answer.
        markup = _markup_blocks(html, url, pairs) if pairs is not None or len(posts) < 2 else []
    except Exception:  # noqa: BLE001 - a broken page falls back to the normal extractor
        return None
    if not markup and not posts:
        return None
    return _title(tree), _merge(markup, posts)


def with_missing_markup(text: str, markup: MarkupResult | None, max_chars: int) -> str:
    """`text` followed by the marked-up questions and answers it does not hold.

    The markup says what the page answers even where the extractor cannot see it: FAQ
    accordions rendered collapsed, answers behind "show more", posts the main-content pass
    dropped as chrome. A question goes with any of its answers that is missing, so an
    appended answer keeps its context; nothing is appended past `max_chars` (a longer page
    would be dropped as too long)."""
    if markup is None or not markup.questions:
        return text
    have = _key(text)
    extra: list[str] = []
    size = len(text)
    for q in markup.questions:
        missing = [a.text for a in q.answers if a.text and not _covered(a.text, [have])]
        if not q.answers or (not missing and _covered(q.text, [have])):
            continue
        for block in ([q.text] if q.text else []) + missing:
            if size + len(block) + 2 > max_chars:
                return "\n\n".join([text, *extra]) if extra else text
            extra.append(block)
            size += len(block) + 2
            have |= _key(block)  # a block repeated by two questions goes in once
    return "\n\n".join([text, *extra]) if extra else text


def _title(tree: HTMLTree) -> str:
    """The thread's heading (the question) rather than <title>, which adds the site's name."""
    heading = tree.body.query_selector("h1") if tree.body is not None else None
    text = " ".join((heading.text or "").split()) if heading is not None else ""
    return text if 0 < len(text) <= 300 else (tree.title or "").strip()


def _qa_markup_markers(html: str) -> bool:
    found = present(html)
    return any(m in found for m in QA_MARKUP_MARKERS) and has_markup_markers(html)


def _markup_blocks(html: str, url: str | None, pairs) -> list[tuple[str, str]]:
    """(kind, text) of the markup's questions and answers, page order; FAQ sections excluded.

    An FAQPage is a sidebar of an article or product page, not the page's own Q&A.
    """
    if pairs is None:
        if not _qa_markup_markers(html):
            return []
        result = extract_qa_markup(html, url)
        items = [(q.text, [a.text for a in q.answers], q.schema_type) for q in result.questions]
    elif isinstance(pairs, MarkupResult):
        items = [(q.text, [a.text for a in q.answers], q.schema_type) for q in pairs.questions]
    else:
        grouped: dict[str, list[str]] = {}
        types: dict[str, str] = {}
        for pair in sorted(pairs, key=lambda p: p.position):
            grouped.setdefault(pair.question, []).append(pair.answer)
            types[pair.question] = pair.schema_type
        items = [(q, answers, types[q]) for q, answers in grouped.items()]
    blocks: list[tuple[str, str]] = []
    for question, answers, schema_type in items:
        if schema_type == "FAQPage":
            continue
        blocks.append(("question", question))
        blocks.extend(("answer", a) for a in answers)
    return blocks


def _post_blocks(tree: HTMLTree, url: str | None) -> list[str]:
    """Texts of the page's post bodies, document order, nested matches counted once."""
    body = tree.body
    if body is None:
        return []
    # Question/Answer items of an FAQ section are not a thread: only posts count there.
    faq_only = _faq_only(tree)
    article_page = any(not _inside_forum_item(n, faq_only, True) for n in body.query_selector_all("[itemprop=articleBody]"))
    kept = []
    for node in body.query_selector_all(POST_BODY_SELECTORS):
        if len(kept) >= MAX_POSTS:
            break
        if kept and any(k.contains(node) for k in kept[-3:]):
            continue
        if _schema_prop(node) and not _inside_forum_item(node, faq_only, article_page):
            continue
        kept.append(node)
    texts = []
    for node in kept:
        for noise in node.query_selector_all(POST_NOISE):
            noise.decompose()
        text = _text(node.html[:MAX_POST_HTML], url)
        if text:
            texts.append(text)
    return texts


def _schema_prop(node) -> bool:
    return node.getattr("itemprop") in ("articleBody", "commentText", "text")


def _faq_only(tree: HTMLTree) -> bool:
    types = " ".join(n.getattr("itemtype") or "" for n in tree.body.query_selector_all("[itemtype]"))
    return "FAQPage" in types and "QAPage" not in types


def _inside_forum_item(node, faq_only: bool, article_page: bool) -> bool:
    """True when the nearest item above the node is a forum post, answer or comment."""
    parent = node.parent
    scope = parent.closest("[itemtype]") if parent is not None and hasattr(parent, "closest") else None
    match = FORUM_ITEM.search(scope.getattr("itemtype") or "") if scope is not None else None
    if match is None or (faq_only and match.group(1) in ("Question", "Answer")):
        return False
    if match.group(1) == "Comment":
        if article_page:
            return False
        outer = scope.parent.closest("[itemtype]") if scope.parent is not None else None
        return outer is None or ARTICLE_ITEM.search(outer.getattr("itemtype") or "") is None
    return True


def _text(fragment: str, url: str | None) -> str:
    _, text = extract_text(fragment, url, TEXT_OPTIONS)
    lines = [SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _key(text: str) -> set[str]:
    return set(w.lower() for w in WORD.findall(text))


def _covered(block: str, posts_words: list[set[str]]) -> bool:
    """True when one post holds (nearly) all the words of a markup block."""
    words = _key(block)
    if not words:
        return True
    return any(len(words & p) >= 0.8 * len(words) for p in posts_words)


def _merge(markup: list[tuple[str, str]], posts: list[str]) -> list[str]:
    """Posts in page order; markup questions missing from them first, answers after.

    Markup answers are often a subset (Discourse lists the accepted answer only) and
    post bodies can miss the question when it is rendered differently, so each fills the
    other's gaps without repeating a text.
    """
    if not posts:
        return [text for _, text in markup]
    posts_words = [_key(p) for p in posts]
    head = [t for kind, t in markup if kind == "question" and not _covered(t, posts_words)]
    tail = [t for kind, t in markup if kind == "answer" and not _covered(t, posts_words)]
    return head + posts + tail
