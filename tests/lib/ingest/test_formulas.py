"""Formulas survive main-text extraction as `$tex$` / `$$tex$$`, once each (lib/ingest/formulas.py).

Real pages come from ../shared/data/pages/math_web, read at run time: every labelled formula of
the chosen page must come out between math delimiters exactly as often as the page lists it.
"""

from __future__ import annotations

import gzip
import json
import re
import time
from collections import Counter

import pytest

from tests.conftest import shared
from webinstruct.lib.ingest import formulas, text_extract
from webinstruct.lib.ingest.charset import decode_html
from webinstruct.lib.ingest.formulas import MAX_TEX_CHARS, clean_tex, has_math, rewrite_html
from webinstruct.lib.ingest.text_extract import ExtractOptions, extract_text

DELIMITED = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$", re.S)
FILLER = "<p>" + "This paragraph of ordinary prose keeps the extractor's main-content heuristics happy. " * 4 + "</p>"


def page(file_id: str) -> tuple[str, list[str]]:
    """Decoded HTML and labelled formulas of one math_web page."""
    folder = shared("pages", "math_web")
    for line in (folder / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["file_id"] == file_id:
            html = decode_html(gzip.decompress((folder / "html" / f"{file_id}.html.gz").read_bytes()), None)[0]
            return html, row["formulas"]
    raise AssertionError(f"page {file_id} not in labels.jsonl")


def delimited(text: str) -> Counter:
    """Formulas in extracted text, by TeX (whitespace collapsed)."""
    return Counter(" ".join((m.group(1) or m.group(2)).split()) for m in DELIMITED.finditer(text))


def assert_each_formula_once(text: str, labels: list[str]) -> None:
    found = delimited(text)
    for tex, k in Counter(clean_tex(f) for f in labels).items():
        assert found[tex] == k, f"{tex!r}: listed {k}x, extracted {found[tex]}x"


def article(body: str) -> str:
    return f"<!DOCTYPE html><html><head><title>t</title></head><body><article>{body}{FILLER}</article></body></html>"


def text_of(html: str, **options) -> str:
    return extract_text(html, None, ExtractOptions(**options))[1]


# --- real pages, one per style -----------------------------------------------------------------------------

def test_mathml_wikipedia_once_each_despite_fallback_images():
    html, labels = page("0001")  # Wikipedia: hidden MathML plus a fallback <img> with the same TeX
    text = text_of(html)
    assert_each_formula_once(text, labels)
    assert "{\\displaystyle" not in text
    assert sum(delimited(text).values()) == len(labels)  # no image alt added a second copy


def test_katex_annotation_kept_rendering_dropped():
    html, labels = page("0005")  # KaTeX server output: katex-mathml annotation + katex-html glyphs
    text = text_of(html)
    assert_each_formula_once(text, labels)
    assert text.count("$$") >= 2 * 9  # the 9 katex-display blocks are display formulas


def test_katex_data_math_attribute():
    html, labels = page("0007")  # KaTeX HTML only; the TeX is in data-math
    assert_each_formula_once(text_of(html), labels)


def test_mathjax_scripts_inline_and_display():
    html, labels = page("0009")
    text = text_of(html)
    assert_each_formula_once(text, labels)
    assert "$$B= \\frac{1}{\\sqrt{3}\\gamma}" in text  # mode=display
    assert "$E_u$" in text


def test_mathjax_v2_rendering_removed_and_mathjax_class_text_kept():
    html, labels = page("0010")  # arXiv abstract: MathJax v2 spans + scripts, class="abstract mathjax"
    text = text_of(html)
    assert_each_formula_once(text, labels)
    assert "Large Language Models (LLMs) have become capable" in text
    assert "acronym $RELIES$ that" in text and "$R$esources" in text  # no rendered glyphs beside the TeX


@pytest.mark.parametrize("file_id", ["0008", "0042"])  # WordPress latex.php; Doxygen formulaInl/formulaDsp
def test_img_alt_formulas(file_id):
    html, labels = page(file_id)
    text = text_of(html)
    assert_each_formula_once(text, labels)
    if file_id == "0042":  # Doxygen wraps display formulas in \[..\]: display, delimiters stripped
        assert "$$ M_2( {\\underline f}" not in text and "$$M_2( {\\underline f}(y,x,t)" in text


def test_trafilatura_keeps_formulas_too():
    html, labels = page("0009")
    assert_each_formula_once(text_of(html, extractor="trafilatura"), labels)
    assert not delimited(text_of(html, extractor="trafilatura", formulas=False))


def test_switching_off_gives_the_old_extraction():
    html, _ = page("0009")
    text = text_of(html, formulas=False)
    assert "E_u" not in text and "$" not in text  # scripts dropped, as before


# --- synthetic cases ---------------------------------------------------------------------------------------

def test_inline_and_display():
    html = article(
        '<p>inline <math><mi>a</mi></math>, block <math display="block"><mi>b</mi></math>,'
        ' script <script type="math/tex">c</script> and <script type="math/tex; mode=display">d</script>,'
        ' katex <span class="katex"><span class="katex-mathml"><math><semantics><mi>e</mi>'
        '<annotation encoding="application/x-tex">e</annotation></semantics></math></span>'
        '<span class="katex-html" aria-hidden="true">RENDERED</span></span> and <span class="katex-display">'
        '<span class="katex"><span class="katex-mathml"><math><semantics><mi>f</mi>'
        '<annotation encoding="application/x-tex">f</annotation></semantics></math></span>'
        '<span class="katex-html">RENDERED</span></span></span>,'
        ' distill <d-math>g</d-math> <d-math block="">h</d-math>.</p>')
    text = text_of(html)
    for tex in "aceg":
        assert f"${tex}$" in text and f"$${tex}$$" not in text
    for tex in "bdfh":
        assert f"$${tex}$$" in text
    assert "RENDERED" not in text


def test_mathml_converted_when_no_tex_is_given():
    html = article('<p>so <math><mfrac><mi>a</mi><msup><mi>b</mi><mn>2</mn></msup></mfrac><mo>≤</mo>'
                   '<msqrt><msub><mi>x</mi><mi>i</mi></msub></msqrt><mo>+</mo><mroot><mi>y</mi><mn>3</mn></mroot>'
                   '</math> holds.</p>')
    assert "$\\frac{a}{b^2}\\leq\\sqrt{x_i}+\\sqrt[3]{y}$" in text_of(html)


def test_annotation_beats_alttext_beats_conversion():
    ann = ('<math alttext="ALT"><semantics><mi>q</mi><annotation encoding="application/x-tex">ANN</annotation>'
           '</semantics></math>')
    assert "$ANN$" in text_of(article(f"<p>x {ann} y</p>"))
    assert "$ALT$" in text_of(article('<p>x <math alttext="ALT"><mi>q</mi></math> y</p>'))


def test_image_alt_skipped_when_mathml_has_the_formula():
    html = article('<p>x <span><math alttext="k^2"><msup><mi>k</mi><mn>2</mn></msup></math>'
                   '<img class="tex" alt="$k^2$" src="k.png"></span> and <img src="/latex.php?latex=m%5E2" alt="m^2">'
                   ' end.</p>')
    text = text_of(html)
    assert delimited(text) == Counter({"k^2": 1, "m^2": 1})


def test_raw_tex_left_intact():
    raw = r"Let \(x^2\) and $$y_1$$ hold, \begin{align} a &amp;= b \\ c &amp;= d \end{align} and \[z\] too."
    html = article(f"<p>{raw}</p>")
    for extractor in ("resiliparse", "trafilatura"):
        text = text_of(html, extractor=extractor)
        for part in (r"\(x^2\)", "$$y_1$$", r"\begin{align} a &= b \\ c &= d \end{align}", r"\[z\]"):
            assert part in text, (extractor, part)


def test_page_without_math_is_fast_pathed(monkeypatch):
    html = article("<p>Plain prose about gardening, with a price of 5 dollars and nothing else.</p>")
    assert not has_math(html)
    assert rewrite_html(html) is html

    def boom(tree):
        raise AssertionError("rewrite_tree must not run on a page without math markers")

    monkeypatch.setattr(text_extract, "rewrite_tree", boom)
    assert text_of(html) == text_of(html, formulas=False)
    start = time.perf_counter()
    for _ in range(100):
        has_math(html * 50)
    assert (time.perf_counter() - start) / 100 < 0.005


def test_mathjax_class_is_case_sensitive():
    html = "<html><body><div class='abstract mathjax'><p>" + "Main text stays here. " * 10 + \
           "<script type='math/tex'>x</script></p></div></body></html>"  # quirks mode: no doctype
    text = text_of(html, main_content=False)
    assert "Main text stays here." in text and "$x$" in text


def test_overlong_formula_is_dropped_and_count_capped(monkeypatch):
    long_tex = "x+" * MAX_TEX_CHARS
    html = article(f'<p>a <script type="math/tex">{long_tex}</script> b <script type="math/tex">y</script></p>')
    text = text_of(html)
    assert "x+x+" not in text and "$y$" in text and len(text) < 2 * len(FILLER)

    monkeypatch.setattr(formulas, "MAX_FORMULAS", 3)
    many = article("<p>" + " ".join(f'<script type="math/tex">v_{i}</script>' for i in range(10)) + "</p>")
    assert sum(delimited(text_of(many)).values()) == 3


def test_hostile_mathml_nesting_is_bounded():
    deep = "<mrow>" * 5000 + "<mi>z</mi>" + "</mrow>" * 5000
    wide = "<mi>w</mi>" * 300_000
    for body in (deep, wide):
        start = time.perf_counter()
        text = text_of(article(f"<p>a <math>{body}</math> b</p>"))
        assert time.perf_counter() - start < 10
        assert "$" not in text or len(delimited(text)) <= 1


# --- formula images whose TeX is only in the address ----------------------------------------------------------

def forum_thread(posts: list[str]) -> str:
    """A forum thread in the usual shape: posts in a list, no math script, no MathJax."""
    items = "".join(f'<li class="post"><div class="author">user{i}</div><div class="content">{p}</div></li>'
                    for i, p in enumerate(posts))
    return (f"<!DOCTYPE html><html><head><title>Homework help</title></head><body><div id='nav'>Forums</div>"
            f"<ol class='posts'>{items}</ol>{FILLER}</body></html>")


def test_mimetex_images_without_alt_give_their_tex():
    html = forum_thread([
        'Solve <img src="/cgi-bin/mimetex.cgi?x^2+3x-4=0" border="0" align="middle"> for real x, please.',
        'Factor it: <img src="/cgi-bin/mimetex.cgi?(x+4)(x-1)=0"> so <img src="/cgi-bin/mimetex.cgi?\\large%20x=1"> '
        'or x = -4. That is all there is to this quadratic equation.',
    ])
    found = delimited(text_of(html))
    assert found == Counter({"x^2+3x-4=0": 1, "(x+4)(x-1)=0": 1, "x=1": 1})  # "+" stays a plus; \large is not TeX


def test_codecogs_google_chart_and_latex_php_addresses_beat_a_non_tex_alt():
    html = forum_thread([
        'The area is <img src="https://latex.codecogs.com/gif.latex?\\dpi{120}&space;\\bg_white&space;\\pi&space;r^2" '
        'alt="image"> square units, for every circle of radius r that we draw.',
        'And <img src="https://chart.googleapis.com/chart?cht=tx&amp;chl=%5Cfrac%7Ba%7D%7Bb%7D%2Bc" alt="formula"> '
        'with <img src="https://s0.wp.com/latex.php?latex=e%5E%7Bi%5Cpi%7D&amp;bg=ffffff&amp;s=0" alt="latex"> too.',
    ])
    found = delimited(text_of(html))
    assert found == Counter({"\\pi r^2": 1, "\\frac{a}{b}+c": 1, "e^{i\\pi}": 1})


def test_src_tex_reads_only_addresses_that_carry_tex():
    assert formulas.src_tex("/img/logo.png") is None
    assert formulas.src_tex("https://example.org/photo.jpg?w=200") is None
    assert formulas.src_tex("https://latex.codecogs.com/svg.image?%5Cinline%20%5Csqrt%7B2%7D") == "\\sqrt{2}"
    assert formulas.src_tex("/mimetex.cgi?") is None
    assert formulas.src_tex("/cgi-bin/mathtex.cgi?\\Large\\int_0^1f") == "\\int_0^1f"


# --- math outside the main column ------------------------------------------------------------------------------

def paper(body: str, nav: str = "") -> str:
    """A LaTeXML-style article (the shape ar5iv and arXiv's HTML papers have)."""
    return (f"<!DOCTYPE html><html><head><title>Paper</title></head><body>{nav}<article class='ltx_document'>"
            f"<h1 class='ltx_title'>A short note</h1>{FILLER}{body}{FILLER}</article></body></html>")


def test_formulas_in_captions_lists_and_footnotes_of_the_article_are_kept():
    html = paper(
        '<figure class="ltx_figure"><img src="curve.png"><figcaption class="ltx_caption">Figure 1: the curve '
        '<math alttext="y=x^{3}"><mi>y</mi></math> near zero.</figcaption></figure>'
        '<p>The two properties we use:</p><ul><li>linearity <math alttext="f(a+b)=f(a)+f(b)" display="block">'
        '<mi>f</mi></math></li><li>and <math alttext="f(0)=0"><mi>f</mi></math></li></ul>'
        '<aside class="footnotes" role="doc-endnotes"><p>1. Here <math alttext="q\\geq 1"><mi>q</mi></math> always.</p></aside>'
    )
    text = text_of(html)
    assert delimited(text) == Counter({"y=x^{3}": 1, "f(a+b)=f(a)+f(b)": 1, "f(0)=0": 1, "q\\geq 1": 1})
    assert "the curve $y=x^{3}$ near zero" in text and "linearity" in text


def test_navigation_and_sidebar_math_is_still_dropped():
    nav = '<nav class="menu"><ul><li><a href="/">Home</a></li><li><a href="/pi">All about <math alttext="\\pi"><mi>p</mi></math></a></li></ul></nav>'
    html = paper('<p>Only <math alttext="a+b"><mi>a</mi></math> belongs here.</p>'
                 '<aside class="sidebar widget"><h3>Popular</h3><p>Why is <math alttext="e^{i\\pi}=-1"><mi>e</mi></math>?</p></aside>',
                 nav=nav)
    assert delimited(text_of(html)) == Counter({"a+b": 1})


def test_pages_whose_lists_hold_no_formula_are_left_as_they_were():
    html = paper('<p>See <math alttext="x"><mi>x</mi></math>.</p><ul><li>plain item one</li><li>plain item two</li></ul>')
    tree = formulas.HTMLTree.parse(html)
    formulas.rewrite_tree(tree)
    assert tree.document.query_selector("ul") is not None and tree.document.query_selector("ol") is None


def ltx_math(tex: str, display: str = "inline") -> str:
    """LaTeXML's MathML: presentation, TeX annotation and alttext (an aligned cell's starts `\\displaystyle`)."""
    return (f'<math alttext="{tex}" display="{display}"><semantics><mrow><mi>q</mi></mrow>'
            f'<annotation encoding="application/x-tex">{tex}</annotation></semantics></math>')


def ltx_row(cells: list[str], number: str) -> str:
    tds = "".join(f'<td class="ltx_td ltx_eqn_cell">{c}</td>' for c in cells)
    return (f'<tr class="ltx_equation ltx_eqn_row"><td class="ltx_eqn_cell ltx_eqn_center_padleft"></td>{tds}'
            f'<td class="ltx_eqn_cell ltx_eqn_center_padright"></td><td class="ltx_eqn_cell ltx_eqn_eqno">'
            f'<span class="ltx_tag ltx_tag_equation">{number}</span></td></tr>')


def test_latexml_equation_tables_give_one_display_formula_per_row_with_its_number():
    group = ('<table class="ltx_equationgroup ltx_eqn_align ltx_eqn_table"><tbody>'
             + ltx_row([ltx_math("\\displaystyle f(x)"), ltx_math("\\displaystyle=x^{2}+1")], "(1)")
             + '<tr class="ltx_eqn_row"><td class="ltx_eqn_cell">where the constant is fixed</td></tr>'
             + ltx_row([ltx_math("\\displaystyle\\sum_{k}a_{k}"), ltx_math("\\displaystyle\\leq b")], "(2)")
             + '</tbody></table>')
    single = ('<table class="ltx_equation ltx_eqn_table"><tbody>'
              + ltx_row([ltx_math("E=mc^{2}", "block")], "(3)") + '</tbody></table>')
    text = text_of(paper(f'<div class="ltx_para"><p class="ltx_p">We define</p>{group}'
                         f'<p class="ltx_p">and also</p>{single}<p class="ltx_p">Inline <math alttext="'
                         f'\\displaystyle\\alpha"><mi>a</mi></math> too.</p></div>'))
    assert delimited(text) == Counter({"f(x)=x^{2}+1": 1, "\\sum_{k}a_{k}\\leq b": 1, "E=mc^{2}": 1, "\\alpha": 1})
    assert "$$f(x)=x^{2}+1$$ (1)" in text and "$$E=mc^{2}$$ (3)" in text
    assert text.index("(1)") < text.index("where the constant is fixed") < text.index("(2)")
    assert "\\displaystyle" not in text


def test_displaystyle_prefix_is_dropped_but_not_a_longer_command():
    assert clean_tex("\\displaystyle x^2") == "x^2"
    assert clean_tex("\\displaystyle\\frac{1}{2}") == "\\frac{1}{2}"
    assert clean_tex("\\displaystyles") == "\\displaystyles"
