"""The report page and its charts, without Spark: self-contained HTML (no resource fetched
from anywhere), escaped text, and the figures embedded as data equal to what was drawn."""

from __future__ import annotations

import json
import re

from webinstruct.lib.report import plots
from webinstruct.lib.report.page import Link, Page, figure, table

EXTERNAL = re.compile(r"""(<script[^>]*\bsrc=|<link\b|<img\b|<iframe\b|@import|url\((?!#)|\bsrc=["']?(https?:|//))""", re.I)


def embedded(html: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="figures">(.*?)</script>', html, re.S).group(1))


def test_a_page_with_every_chart_kind_loads_nothing_from_outside():
    page = Page("report", "lake /tmp/x")
    page.section("a", "Bars", figure(plots.hbar([("archives", 3), ("pages", 120)], "funnel", log=True)))
    page.section("b", "Histogram", figure(plots.histogram([1, 0, 4, 2], [0, 0.25, 0.5, 0.75, 1.0], "scores", "score", 0.5)))
    page.section("c", "Columns", figure(plots.columns([("1", 7), ("2", 1)], "clusters", "size", "clusters")))
    page.section("d", "Grouped", figure(plots.grouped(["gsm8k", "math"], {"t1": [2, 0], "t2": [1, 3]}, "flags")))
    html = page.render({"funnel": [["archives", 3]]})
    assert not EXTERNAL.search(html), EXTERNAL.search(html)
    assert "<!DOCTYPE svg" not in html and "<?xml" not in html  # the SVG DOCTYPE names a remote DTD
    assert html.count("<svg") == 4 and "threshold 0.5" in html
    # labels stay text: what a chart says can be searched and read back
    assert ">120<" in html.replace(" ", "") or "120</text>" in html


def test_text_from_pages_is_escaped_and_the_figures_round_trip():
    hostile = '<script>alert(1)</script> "quotes" & </script>'
    page = Page("report", "meta")
    page.section("s", "Sample", table(["question", "page"], [[hostile, Link("https://example.org/q?a=1&b=<2>", "page")]]))
    figures = {"sample": [hostile], "n": 3}
    html = page.render(figures)
    assert "<script>alert" not in html and "alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="https://example.org/q?a=1&amp;b=&lt;2&gt;"' in html
    assert embedded(html) == figures  # a page's "</script>" cannot end the data block early


def test_an_empty_table_says_so():
    assert "nothing yet" in table(["a"], [])
