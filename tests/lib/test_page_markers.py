"""One scan finds exactly the marker strings that `in` finds (lib/page_markers.py).

Real pages from ../shared/data/pages (labelled web pages and maths pages), read at run time,
with Hyperscan and with the plain fallback the Linux aarch64 install uses.
"""

from __future__ import annotations

import gzip
import threading

import pytest

from tests.conftest import shared
from webinstruct.lib import page_markers
from webinstruct.lib.ingest import formulas, qa_text
from webinstruct.lib.ingest.charset import decode_html
from webinstruct.lib.qa import markup


def real_pages(limit: int = 150) -> list[str]:
    files = sorted(shared("pages", "wceb2026", "html").glob("*.html.gz"))[:limit]
    files += sorted(shared("pages", "math_web", "html").glob("*.html.gz"))
    return [decode_html(gzip.decompress(f.read_bytes()), None)[0] for f in files]


@pytest.fixture(params=["hyperscan", "substring"])
def scanner(request, monkeypatch):
    if request.param == "hyperscan" and page_markers.hyperscan is None:
        pytest.skip("no hyperscan wheel on this platform")
    if request.param == "substring":
        monkeypatch.setattr(page_markers, "hyperscan", None)
    monkeypatch.setattr(page_markers, "_local", threading.local())  # no memo from another test
    return request.param


def test_every_watched_string_is_found_exactly_where_in_finds_it(scanner):
    watched = tuple(page_markers._watched)
    # The consumers registered their markers on import.
    assert set(formulas.MARKERS) | set(qa_text.STRUCTURE_MARKERS) | set(markup.TYPE_MARKERS) <= set(watched)
    pages = real_pages()
    hits = 0
    for html in pages:
        expected = {s for s in watched if s in html}
        assert page_markers.present(html) == expected
        hits += len(expected)
    assert hits > len(pages)  # the pages do hold markers: the comparison is not all-empty


def test_markers_after_multibyte_text_and_lone_surrogates_are_found(scanner):
    html = "é中😀\ud800 <div class='postbody'>x</div> <math>"
    assert {"postbody", "math"} <= page_markers.present(html)
    assert "cooked" not in page_markers.present(html)


def test_one_page_is_scanned_once_however_many_passes_ask(scanner, monkeypatch):
    calls = []
    real = page_markers._scan
    monkeypatch.setattr(page_markers, "_scan", lambda html: calls.append(1) or real(html))
    html = "<p class='post-text'>2+2 <math><mi>x</mi></math></p>"
    formulas.math_markers(html)
    qa_text.looks_like_qa(html)
    markup.has_markup_markers(html)
    assert len(calls) == 1
    page_markers.present("".join(["<p class='post-text'>2+2 ", "<math><mi>x</mi></math></p>"]))  # equal, not the same
    assert len(calls) == 2


def test_a_string_watched_later_is_found_too(scanner):
    html = "<div class='late-marker-for-test'>a</div>"
    before = page_markers.present(html)
    page_markers.watch("late-marker-for-test")
    assert page_markers.present(html) == before | {"late-marker-for-test"}


def test_each_thread_gets_its_own_answer(scanner):
    pages = ["<math>" * 50 + "x", "<div class='bbWrapper'>" * 50 + "y"] * 20
    wanted = [{s for s in page_markers._watched if s in p} for p in pages]
    got: list = [None] * len(pages)

    def work(i: int) -> None:
        for _ in range(20):
            got[i] = page_markers.present(pages[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(pages))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == wanted


def test_markers_must_be_ascii():
    with pytest.raises(ValueError, match="ASCII"):
        page_markers.watch("größe")
