"""Build the demo's WARC from the pages shipped in lib/demo_pages.

The archive mixes what a real crawl holds: Q&A (two stating their pairs in schema.org
markup, with MathJax and KaTeX formulas), a long forum thread, tutorial, article and product pages, a
non-English page, a near-empty page, a forum page that quotes a benchmark item, plus a request record, a 404, an image and a
revisit, so the demo shows each of ingest's keep and drop paths; and two copies fetched a
day later, a verbatim mirror and a syndicated repost with its own banner and footer, so
dedup has an exact and a near duplicate to drop.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
from importlib import resources
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

# page file -> (URL, charset the bytes are stored in, charset named in the HTTP header)
PAGES = {
    "qa_quadratic.html": ("https://algebra-help.example.org/questions/1041/solve-x2-5x-6-by-factoring", "utf-8", "utf-8"),
    "qa_probability.html": ("https://stats.example.net/q/77/probability-two-sixes", "utf-8", None),
    "tutorial_derivatives.html": ("https://calculus-notes.example.edu/derivatives/power-rule", "utf-8", "utf-8"),
    "qa_physics.html": ("http://physics.homework.example.co.uk/mechanics/braking-distance", "cp1252", None),
    "product_headphones.html": ("https://shop.example.com/p/aurora-wireless-headphones", "utf-8", "utf-8"),
    "article_gardening.html": ("https://garden.example.org/2026/balcony-herbs", "utf-8", "utf-8"),
    "german_bruchrechnung.html": ("https://mathe.example.de/brueche/addieren", "cp1252", "iso-8859-1"),
    "short_notice.html": ("https://status.example.com/maintenance", "utf-8", "utf-8"),
    # Q&A in schema.org markup: QAPage microdata with MathJax formulas, and an FAQPage in
    # JSON-LD (beside a broken JSON-LD block) with KaTeX: exact pairs without the LLM
    "qa_markup_circle.html": ("https://geometry-qa.example.org/q/318/circle-area-from-circumference", "utf-8", "utf-8"),
    "faq_percentages.html": ("https://maths-study.example.com/guides/percentages/faq", "utf-8", "utf-8"),
    # a long forum thread (Discourse-like post bodies, TeX in $..$): two questions, answers in later posts
    "forum_thread_compound_interest.html": ("https://maths-help.example.org/t/1207/compound-interest-book-answer", "utf-8", "utf-8"),
    # quotes an item of the demo benchmark (lib/demo/benchmark.py): decontamination drops it
    "qa_trains.html": ("https://mathforum.example.org/t/2291/two-trains-meeting", "utf-8", "utf-8"),
}

# Copies fetched a day after the originals: URL -> (original page, edit to its HTML).
COPIES = {
    "https://mirror.algebra-help.example.net/q/1041": ("qa_quadratic.html", None),
    "https://homework-answers.example.com/probability/two-sixes": (
        "qa_probability.html",
        (
            "<article>",
            "<article>\n<p>Reposted from stats.example.net with the author's permission.</p>",
            "</article>",
            "<p>Found this useful? Share it with your study group.</p>\n</article>",
        ),
    ),
}

CRAWL = "WEBINSTRUCT-DEMO-2026"


def page_html(name: str) -> str:
    return resources.files("webinstruct.lib.demo.pages").joinpath(name).read_text(encoding="utf-8")


def build_sample_archive(out: Path, when: dt.datetime | None = None) -> Path:
    """Write a gzip-per-record WARC to `out` and return it."""
    when = when or dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.timezone.utc)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        writer.write_record(
            writer.create_warcinfo_record(out.name, {"software": "webinstruct demo", "isPartOf": CRAWL})
        )
        for name, (url, stored, declared) in PAGES.items():
            body = page_html(name).encode(stored)
            ctype = "text/html" + (f"; charset={declared}" if declared else "")
            # Pages compressed on the wire, as many servers send them.
            payload = gzip.compress(body) if name.startswith("qa_") else body
            headers = [("Content-Type", ctype), ("Content-Length", str(len(payload)))]
            if payload is not body:
                headers.append(("Content-Encoding", "gzip"))
            writer.write_record(_request(writer, url, stamp))
            writer.write_record(_response(writer, url, stamp, "200 OK", headers, payload))
        later = (when + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for url, (name, edit) in COPIES.items():
            html = page_html(name)
            if edit:
                html = html.replace(edit[0], edit[1], 1).replace(edit[2], edit[3], 1)
            body = html.encode("utf-8")
            headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))]
            writer.write_record(_response(writer, url, later, "200 OK", headers, body))
        missing = "https://stats.example.net/q/78/deleted"
        writer.write_record(_response(writer, missing, stamp, "404 Not Found", [("Content-Type", "text/html")], b"<html><body>Not found</body></html>"))
        png = b"\x89PNG\r\n\x1a\n" + bytes(64)
        writer.write_record(_response(writer, "https://shop.example.com/img/aurora.png", stamp, "200 OK", [("Content-Type", "image/png")], png))
        revisit = writer.create_revisit_record(
            PAGES["qa_quadratic.html"][0], digest="sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            refers_to_uri=PAGES["qa_quadratic.html"][0], refers_to_date=stamp,
            http_headers=StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1"),
        )
        writer.write_record(revisit)
    return out


def _request(writer, url: str, stamp: str):
    path = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else "/"
    headers = StatusAndHeaders(f"GET {path} HTTP/1.1", [("Host", url.split("/")[2])], is_http_request=True)
    return writer.create_warc_record(url, "request", http_headers=headers, warc_headers_dict={"WARC-Date": stamp})


def _response(writer, url, stamp, status, headers, payload: bytes):
    http = StatusAndHeaders(status, headers, protocol="HTTP/1.1")
    return writer.create_warc_record(
        url, "response", payload=io.BytesIO(payload), length=len(payload), http_headers=http,
        warc_headers_dict={"WARC-Date": stamp},
    )
