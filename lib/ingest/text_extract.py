"""Main-text extraction from decoded HTML, with the extractor chosen in config.

resiliparse is the default: on our ground-truth pages it is about 10x faster than
trafilatura for a few points less F1 (see bench/extraction_quality.py and the README), and
ingest runs over whole crawl segments, so speed wins. trafilatura stays selectable for
runs that value recall of the main content over throughput.

Neither extractor has a timeout of its own: ingest bounds each record's wall-clock time
(lib/ingest/archive.py, `record_seconds`). An alarm interrupts trafilatura, which is pure
Python, at the deadline; resiliparse is C and is only stopped when it returns.

With `formulas` on (the default) math is kept as TeX, `$..$` inline and `$$..$$` display
(lib/ingest/formulas.py): both extractors would otherwise drop or garble it, and math is
what this corpus is for.
"""

from __future__ import annotations

from dataclasses import dataclass

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree

from webinstruct.lib.ingest.formulas import math_markers, rewrite_html, rewrite_tree

EXTRACTORS = ("resiliparse", "trafilatura")


@dataclass(frozen=True)
class ExtractOptions:
    extractor: str = "resiliparse"
    main_content: bool = True  # drop navigation, footers and sidebars
    list_bullets: bool = True
    alt_texts: bool = False
    links: bool = False
    comments: bool = True  # Q&A answers often live in comment-like blocks: keep them
    favor_recall: bool = False  # trafilatura only
    formulas: bool = True  # formulas as $tex$ / $$tex$$ (lib/ingest/formulas.py)


def extract_text(html: str, url: str | None, options: ExtractOptions) -> tuple[str, str]:
    """Return (title, main text); empty strings when the page has none."""
    if options.extractor == "resiliparse":
        return _resiliparse(html, options)
    if options.extractor == "trafilatura":
        return _trafilatura(html, url, options)
    raise ValueError(f"extractor must be one of {', '.join(EXTRACTORS)}, got {options.extractor!r}")


def _resiliparse(html: str, options: ExtractOptions) -> tuple[str, str]:
    tree = HTMLTree.parse(html)
    markers = math_markers(html) if options.formulas else ()
    if markers:
        rewrite_tree(tree, markers)
    title = (tree.title or "").strip()
    text = extract_plain_text(
        tree,
        main_content=options.main_content,
        list_bullets=options.list_bullets,
        alt_texts=options.alt_texts,
        links=options.links,
        comments=options.comments,
        form_fields=False,
        noscript=False,
    )
    return title, text.strip()


def _trafilatura(html: str, url: str | None, options: ExtractOptions) -> tuple[str, str]:
    import trafilatura  # noqa: PLC0415 - heavy (lxml, courlan, htmldate) and only when selected

    if options.formulas:
        html = rewrite_html(html)
    doc = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=options.comments,
        include_tables=True,
        favor_recall=options.favor_recall,
        deduplicate=False,
    )
    if doc is None:
        return "", ""
    return (getattr(doc, "title", None) or "").strip(), (getattr(doc, "text", None) or "").strip()
