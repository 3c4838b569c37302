"""Mathematical formulas kept as TeX in the main text that ingest extracts.

Rule, the one used everywhere in the pipeline: an inline formula becomes `$tex$`, a
display formula `$$tex$$`.

Why: text extractors see rendered math as a heap of glyph spans (KaTeX, MathJax), drop it
(`<script type="math/tex">`, formula images) or emit it twice (KaTeX and Wikipedia ship a
rendering beside the source). So before the extractor runs, each formula node of the
parsed page is replaced by a plain text node holding its TeX, and duplicate renderings are
removed. The TeX is what the page itself carries, in this order: `data-math` / `data-tex`
/ `data-latex` attributes, KaTeX's MathML annotation, Wikipedia's MathML, MathJax
`math/tex` scripts (v2/v3 rendered output removed), Distill `<d-math>`, LaTeXML equation
tables (one display formula per row, its cells joined, its number after it), MathML (TeX
annotation, else `alttext`, else a conversion of the common presentation elements), and
formula images: the TeX in their address (mimetex, mathtex, codecogs, Google Chart, WordPress
`latex.php`), else their `alt` (unless the same formula is already there as MathML). Raw `$..$`,
`\\(..\\)`, `\\[..\\]`, `$$..$$` and `\\begin{env}..\\end{env}` in the text are left as
the page wrote them.

Cost: pages without a math marker (a few substring tests) are not touched. Bounded: a
formula longer than MAX_TEX_CHARS is dropped (truncated TeX is garbage), at most
MAX_FORMULAS formulas per page are rewritten (the rest are left to the extractor as they
are), and MathML conversion stops at MAX_MATHML_NODES elements per page, MAX_MATHML_DEPTH levels
and MAX_TEX_CHARS of token text (such MathML is left to the extractor as it is).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import parse_qs, unquote, urlsplit

from resiliparse.parse.html import DOMNode, HTMLTree, NodeType

from webinstruct.lib.page_markers import present, watch

MAX_TEX_CHARS = 5_000
MAX_FORMULAS = 5_000
MAX_MATHML_NODES = 50_000
MAX_MATHML_DEPTH = 100

# Cheap pre-check, few markers because each is a scan of the page (together about a sixth of
# resiliparse's time): every source below contains one ("math": <math>, math/tex, data-math,
# d-math, mwe-math, MathJax output with its script or MathML; "atex": katex, latex.php,
# data-latex; "formula": Doxygen images), and the markers found pick the (costlier) CSS probe.
# "mimetex" and "cht=tx" catch forum threads whose only formulas are mimetex or Google Chart
# images (mathtex.cgi has "math", codecogs and latex.php "atex").
MARKERS = watch("math", "atex", "formula", "data-tex=", "mimetex", "cht=tx")

TEX_ENCODINGS = frozenset({"application/x-tex", "text/x-tex", "application/x-latex", "text/x-latex",
                           "application/tex", "text/tex", "tex", "latex"})
# MathJax v2 renderer output; the TeX stays in the `math/tex` script beside it.
MATHJAX2_RENDERED = ("MathJax_Preview", "MathJax_Display", "MathJax", "MathJax_SVG_Display", "MathJax_SVG",
                     "MathJax_CHTML", "MathJax_MathML", "MathJax_PHTML", "MathJax_PlainSource", "mjx-chtml")
FORMULA_IMG_CLASSES = frozenset({"latex", "tex", "formulaInl", "formulaDsp", "mwe-math-fallback-image-inline",
                                 "mwe-math-fallback-image-display", "ql-img-inline-formula",
                                 "ql-img-displayed-equation"})
DISPLAY_IMG_CLASSES = frozenset({"formulaDsp", "mwe-math-fallback-image-display", "ql-img-displayed-equation"})
FORMULA_IMG_SRC = ("latex.php", "latex.codecogs.com", "mimetex", "mathtex.cgi", "cht=tx", "quicklatex.com")
FORMULA_IMG = ", ".join([f"img.{c}" for c in sorted(FORMULA_IMG_CLASSES)] + [f'img[src*="{s}"]' for s in FORMULA_IMG_SRC])
# Per marker, what a stage below would touch: one query tells pages that only mention math apart.
PROBES = {
    "math": ("math, [data-math], .mwe-math-element, script[type^='math/tex'], d-math, dt-math, mjx-container,"
             " img.mwe-math-fallback-image-inline, img.mwe-math-fallback-image-display, img[src*='mathtex']"),
    "atex": ".katex, [data-latex], img.latex, img.tex, img.ql-img-inline-formula, img.ql-img-displayed-equation,"
            " img[src*='latex']",
    "formula": "img.formulaInl, img.formulaDsp",
    "data-tex=": "[data-tex]",
    "mimetex": "img[src*='mimetex']",
    "cht=tx": "img[src*='cht=tx']",
}
# Services whose image address is the TeX itself (`mimetex.cgi?x^2`, `latex.codecogs.com/
# svg.image?x^2`), and the rendering options they accept before it (size, resolution, colours,
# font), which are not part of the formula.
RAW_TEX_SERVICES = ("mimetex", "mathtex", "codecogs.com")
RENDER_OPTION = re.compile(r"\\(?:dpi\{\d+\}|bg_\w+|bg\{\w+\}|fg_\w+|fg\{\w+\}|fn_\w+|inline|tiny|scriptsize|"
                           r"footnotesize|small|normalsize|large|Large|LARGE|huge|Huge|png|gif|svg|opaque|reverse)(?![A-Za-z])\s*")
# codecogs' editor writes spaces and pluses as entities inside the address
CODECOGS_ENTITIES = (("&space;", " "), ("&plus;", "+"), ("&amp;", "&"))
# Tags resiliparse's main-content pass drops whatever they hold, and the tag a formula's
# container gets instead (see _lift_containers).
LIFTED_TAGS = {"figure": "div", "figcaption": "div", "ul": "ol", "aside": "div"}
MAX_LIFT_DEPTH = 64
OUTER_DELIMITERS = (("$$", "$$", True), ("\\[", "\\]", True), ("\\(", "\\)", False), ("$", "$", False))
TEX_COMMENT = re.compile(r"(?<!\\)%[^\n]*")
DISPLAYSTYLE_PREFIX = re.compile(r"^\\displaystyle(?![A-Za-z])\s*")


def math_markers(html: str) -> tuple[str, ...]:
    """The MARKERS in the page; empty when it cannot hold a formula to rewrite."""
    found = present(html)
    return tuple(marker for marker in MARKERS if marker in found)


def has_math(html: str) -> bool:
    """True when the page may hold formulas that need rewriting (false positives cost a CSS query)."""
    found = present(html)
    return any(marker in found for marker in MARKERS)


def rewrite_html(html: str) -> str:
    """The page with every formula as `$tex$` / `$$tex$$` text; the same string when it has none."""
    markers = math_markers(html)
    if not markers:
        return html
    tree = HTMLTree.parse(html)
    if not rewrite_tree(tree, markers) or tree.document is None:
        return html
    return tree.document.html


def rewrite_tree(tree: HTMLTree, markers: tuple[str, ...] = MARKERS) -> int:
    """Rewrite the formulas of a parsed page in place; returns how many were changed or removed.

    `markers`: math_markers() of the page's HTML when known, to make the first probe cheaper."""
    root = tree.document
    probe = ", ".join(PROBES[m] for m in markers if m in PROBES)
    if root is None or not probe or root.query_selector(probe) is None:
        return 0
    writer = _Writer(tree)
    # Containers first: their replacement also removes the renderings nested inside them.
    for stage in (_data_attributes, _katex, _wikipedia, _mathjax, _scripts, _distill, _equation_tables, _mathml,
                  _images):
        stage(root, writer)
        if writer.count >= MAX_FORMULAS:
            break
    _lift_containers(writer)
    return writer.count


class _Writer:
    """Replaces formula nodes by text, within the page's formula and MathML budgets."""

    def __init__(self, tree: HTMLTree):
        self.tree = tree
        self.count = 0
        self.mathml_nodes_left = MAX_MATHML_NODES
        self.mathml_near: dict[DOMNode, set[str]] = {}  # parent -> TeX written from MathML there
        self.placed: list[DOMNode] = []  # the formula text nodes written

    def full(self) -> bool:
        return self.count >= MAX_FORMULAS

    def put(self, node: DOMNode, tex: str | None, display: bool) -> str | None:
        """Replace `node` by its formula text (or drop it if the TeX is empty or too long)."""
        if self.full() or node.parent is None:
            return None
        self.count += 1
        tex = clean_tex(tex or "")
        if not tex or len(tex) > MAX_TEX_CHARS:
            node.parent.remove_child(node)
            return None
        text = self.tree.create_text_node(f" $${tex}$$ " if display else f"${tex}$")
        node.parent.replace_child(text, node)
        self.placed.append(text)
        return tex

    def drop(self, node: DOMNode) -> None:
        if node.parent is not None:
            node.parent.remove_child(node)


def _lift_containers(w: _Writer) -> None:
    """Give the containers of written formulas that the main-content pass drops by their tag
    (figures and captions, bulleted lists, footnote asides) a tag it keeps, children moved
    as they are. They belong to the article; navigation still goes with its own container
    (`nav`, menus, sidebars), which is left alone, as are asides that are not footnotes."""
    lift: dict[DOMNode, str] = {}
    for node in w.placed:
        el, depth = node.parent, 0
        while el is not None and depth < MAX_LIFT_DEPTH and el.tag not in ("body", "html"):
            tag = el.tag
            if tag in LIFTED_TAGS and el not in lift and (tag != "aside" or _is_footnotes(el)):
                lift[el] = LIFTED_TAGS[tag]
            el, depth = el.parent, depth + 1
    for el, tag in lift.items():
        if el.parent is None:
            continue
        new = w.tree.create_element(tag)
        for name in ("id", "class"):
            if el.getattr(name) is not None:
                new.setattr(name, el.getattr(name))
        while el.first_child is not None:
            new.append_child(el.first_child)
        el.parent.replace_child(new, el)


def _is_footnotes(el: DOMNode) -> bool:
    marks = f"{el.getattr('class') or ''} {el.getattr('id') or ''} {el.getattr('role') or ''}".lower()
    return any(m in marks for m in ("footnote", "endnote", "doc-note"))


def clean_tex(tex: str) -> str:
    """TeX on one line: comments removed, whitespace collapsed, `{\\displaystyle ..}` unwrapped
    and a leading `\\displaystyle` dropped (LaTeXML's alttext has it; `$$` already says display)."""
    if "%" in tex:
        tex = TEX_COMMENT.sub("", tex)
    tex = " ".join(tex.split())
    if tex.startswith("{\\displaystyle") and _closing_brace(tex) == len(tex) - 1:
        tex = tex[len("{\\displaystyle"):-1].strip()
    if tex.startswith("\\displaystyle"):
        tex = DISPLAYSTYLE_PREFIX.sub("", tex, count=1)
    return tex


def _closing_brace(tex: str) -> int:
    """Index of the brace closing tex[0] == '{', or -1."""
    depth, i = 0, 0
    while i < len(tex):
        c = tex[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _classes(node: DOMNode) -> set[str]:
    value = node.getattr("class")
    return set(value.split()) if value else set()


def _by_class(root: DOMNode, *names: str) -> list[DOMNode]:
    """Elements with one of these classes, compared case-sensitively: in quirks mode the CSS
    engine would also match e.g. arXiv's `class="abstract mathjax"`, the page's main text."""
    wanted = set(names)
    return [el for el in root.query_selector_all(", ".join("." + n for n in names)) if _classes(el) & wanted]


def _attached(node: DOMNode) -> bool:
    """Still in the document (not inside a subtree an earlier replacement removed)."""
    while node.parent is not None:
        node = node.parent
    return node.type == NodeType.DOCUMENT


# --- stages --------------------------------------------------------------------------------------------------

def _data_attributes(root: DOMNode, w: _Writer) -> None:
    """KaTeX/MathJax wrappers that keep the TeX in an attribute (the rendering inside is dropped)."""
    for el in root.query_selector_all("[data-math], [data-tex], [data-latex]"):
        tex = el.getattr("data-math") or el.getattr("data-tex") or el.getattr("data-latex") or ""
        if tex.strip().lower() in ("", "true", "false", "1", "0") or not _attached(el):
            continue
        classes = _classes(el)
        display = el.tag == "div" or any("display" in c or "block" in c for c in classes)
        w.put(el, tex, display)


def _katex(root: DOMNode, w: _Writer) -> None:
    """`span.katex` holds `span.katex-mathml` (source) and `span.katex-html` (rendering): keep one."""
    for el in _by_class(root, "katex"):
        if not _attached(el):
            continue
        math = el.query_selector("math")
        tex = mathml_tex(math, w) if math is not None else None
        if tex is None:
            continue  # HTML-only output without source: leave the rendering
        parent = el.parent
        display = (parent is not None and "katex-display" in _classes(parent)) or _is_display_math(math)
        w.put(el, tex, display)


def _wikipedia(root: DOMNode, w: _Writer) -> None:
    """`span.mwe-math-element` holds hidden MathML and a fallback image with the same TeX."""
    for el in _by_class(root, "mwe-math-element"):
        if not _attached(el):
            continue
        math = el.query_selector("math")
        tex = mathml_tex(math, w) if math is not None else None
        if tex is None:
            img = el.query_selector("img[alt]")
            tex = _strip_delimiters(img.getattr("alt"))[0] if img is not None else None
        if tex is None:
            continue
        display = (_is_display_math(math) or el.query_selector(
            ".mwe-math-mathml-display, .mwe-math-fallback-image-display") is not None
            or "mwe-math-element-block" in _classes(el))
        w.put(el, tex, display)


def _mathjax(root: DOMNode, w: _Writer) -> None:
    """MathJax v2 renderings go when their `math/tex` script is there; v2 without it and v3 keep the MathML."""
    if root.query_selector('script[type^="math/tex"]') is not None:
        for el in _by_class(root, *MATHJAX2_RENDERED):
            w.drop(el)
    else:
        for names in (("MathJax_Display", "MathJax_SVG_Display"), ("MathJax", "MathJax_SVG", "MathJax_CHTML")):
            for el in _by_class(root, *names):
                math = el.query_selector("math") if _attached(el) else None
                tex = mathml_tex(math, w) if math is not None else None
                if tex is not None:
                    w.put(el, tex, "Display" in (el.getattr("class") or "") or _is_display_math(math))
    for el in root.query_selector_all("mjx-container"):
        math = el.query_selector("math") if _attached(el) else None
        tex = mathml_tex(math, w) if math is not None else None
        if tex is not None:
            w.put(el, tex, el.getattr("display") in ("true", "block") or _is_display_math(math))


def _scripts(root: DOMNode, w: _Writer) -> None:
    """`<script type="math/tex">` (and `; mode=display`): the extractor drops scripts, so make it text."""
    for el in root.query_selector_all('script[type^="math/tex"]'):
        w.put(el, el.text, "mode=display" in (el.getattr("type") or "").lower())


def _distill(root: DOMNode, w: _Writer) -> None:
    """Distill's `<d-math>` / `<dt-math>` hold bare TeX; `block` marks display."""
    for el in root.query_selector_all("d-math, dt-math"):
        if _attached(el):
            w.put(el, el.text, el.hasattr("block"))


def _equation_tables(root: DOMNode, w: _Writer) -> None:
    """LaTeXML (arXiv HTML, ar5iv) lays display equations out as tables, an `align` row split
    into one `<math>` per cell (`\\displaystyle f(x)` | `\\displaystyle =x^2`) and the equation
    number in a cell of its own. Each row becomes one display formula followed by its number;
    rows without math (`\\intertext`) keep their text."""
    for table in root.query_selector_all("table.ltx_equation, table.ltx_equationgroup, table.ltx_eqn_table"):
        if w.full():
            return
        if not _attached(table) or table.parent is None:
            continue  # inside a group already rewritten
        rows = []
        for tr in table.query_selector_all("tr"):
            texs = [mathml_tex(m, w) for m in tr.query_selector_all("math")]
            if None in texs:
                return  # over the MathML budget: the rest is left to the extractor as it is
            tag = tr.query_selector(".ltx_tag_equation, .ltx_eqn_eqno")
            rows.append((_join([clean_tex(t) for t in texs]), tag.text.strip() if tag is not None else "", tr.text))
        block = w.tree.create_element("div")
        for tex, number, text in rows:
            p = w.tree.create_element("p")
            block.append_child(p)
            if not tex:
                p.append_child(w.tree.create_text_node(" ".join(text.split())))
                continue
            slot = p.append_child(w.tree.create_element("span"))
            w.put(slot, tex, True)
            if number:
                p.append_child(w.tree.create_text_node(number))
        table.parent.replace_child(block, table)


def _mathml(root: DOMNode, w: _Writer) -> None:
    for el in root.query_selector_all("math"):
        if w.full():
            return
        if not _attached(el):
            continue
        tex = mathml_tex(el, w)
        if tex is None:
            continue  # over the conversion budget: left to the extractor as it is
        parent = el.parent
        tex = w.put(el, tex, _is_display_math(el))
        if tex and parent is not None:
            for near in (parent, parent.parent):
                if near is not None:
                    w.mathml_near.setdefault(near, set()).add(tex)


def _images(root: DOMNode, w: _Writer) -> None:
    for el in root.query_selector_all(FORMULA_IMG):
        if w.full():
            return
        classes = _classes(el)
        src = el.getattr("src") or ""
        if not (classes & FORMULA_IMG_CLASSES or any(s in src for s in FORMULA_IMG_SRC)):
            continue  # the selector matched a class in another case
        # The address renders the image, so TeX found there beats an `alt` (often "image",
        # "formula" or empty on forums).
        alt = src_tex(src) or el.getattr("alt")
        if not alt:
            continue
        tex, display = _strip_delimiters(alt)
        parent = el.parent
        if any(clean_tex(tex) in w.mathml_near.get(near, ())
               for near in (parent, parent.parent if parent is not None else None) if near is not None):
            w.drop(el)  # the same formula is already there as MathML
            continue
        w.put(el, tex, display or bool(classes & DISPLAY_IMG_CLASSES))


def src_tex(src: str) -> str | None:
    """The TeX a formula image's address carries: WordPress `latex.php?latex=`, Google Chart's
    `cht=tx&chl=`, or the whole query of mimetex, mathtex and codecogs (their rendering options
    removed); None when the address holds none."""
    if "?" not in src:
        return None
    base, query = src.split("?", 1)
    try:
        if "latex=" in query or "cht=tx" in query:
            params = parse_qs(urlsplit(src).query)
            tex = (params.get("latex") or params.get("chl") or [""])[0]
            return tex.strip() or None
    except ValueError:  # a malformed address: no TeX from it
        return None
    if not any(service in base.lower() for service in RAW_TEX_SERVICES):
        return None
    for entity, char in CODECOGS_ENTITIES:
        query = query.replace(entity, char)
    tex = unquote(query)  # a raw TeX query: "+" is TeX's plus, not a space
    while (option := RENDER_OPTION.match(tex)) is not None:
        tex = tex[option.end():]
    return tex.strip() or None


def _strip_delimiters(tex: str) -> tuple[str, bool]:
    """(TeX without one outer `$$`, `\\[`, `\\(` or `$` pair, whether that pair meant display)."""
    tex = tex.strip()
    for left, right, display in OUTER_DELIMITERS:
        if len(tex) >= len(left) + len(right) and tex.startswith(left) and tex.endswith(right):
            return tex[len(left):len(tex) - len(right)], display
    return tex, False


def _is_display_math(math: DOMNode | None) -> bool:
    return math is not None and (math.getattr("display") == "block" or math.getattr("mode") == "display")


# --- MathML ----------------------------------------------------------------------------------------------------

def mathml_tex(math: DOMNode, w: _Writer | None = None) -> str | None:
    """TeX of a `<math>`: its TeX annotation, else `alttext`, else converted; None if too big."""
    for ann in math.query_selector_all("annotation"):
        if (ann.getattr("encoding") or "").strip().lower() in TEX_ENCODINGS:
            return ann.text
    alt = math.getattr("alttext")
    if alt and alt.strip():
        return alt
    budget = w.mathml_nodes_left if w is not None else MAX_MATHML_NODES
    conv = _MathMLConverter(budget)
    try:
        tex = conv.convert(math, 0)
    except _TooBig:
        tex = None
    if w is not None:
        w.mathml_nodes_left = max(conv.left, 0)
    return tex


class _TooBig(Exception):
    pass


FUNCTIONS = frozenset("sin cos tan cot sec csc arcsin arccos arctan sinh cosh tanh coth log ln lg exp lim "
                      "liminf limsup max min sup inf det dim ker deg gcd arg hom Pr".split())
LARGE_OPERATORS = frozenset("∑∏∐∫∬∭∮⋃⋂⋁⋀⨁⨂⨀") | {"lim", "max", "min", "sup", "inf", "limsup", "liminf"}
SYMBOLS = {
    "α": "\\alpha", "β": "\\beta", "γ": "\\gamma", "δ": "\\delta", "ε": "\\varepsilon", "ϵ": "\\epsilon",
    "ζ": "\\zeta", "η": "\\eta", "θ": "\\theta", "ϑ": "\\vartheta", "ι": "\\iota", "κ": "\\kappa",
    "λ": "\\lambda", "μ": "\\mu", "ν": "\\nu", "ξ": "\\xi", "π": "\\pi", "ϖ": "\\varpi", "ρ": "\\rho",
    "ϱ": "\\varrho", "σ": "\\sigma", "ς": "\\varsigma", "τ": "\\tau", "υ": "\\upsilon", "φ": "\\varphi",
    "ϕ": "\\phi", "χ": "\\chi", "ψ": "\\psi", "ω": "\\omega", "Γ": "\\Gamma", "Δ": "\\Delta",
    "Θ": "\\Theta", "Λ": "\\Lambda", "Ξ": "\\Xi", "Π": "\\Pi", "Σ": "\\Sigma", "Υ": "\\Upsilon",
    "Φ": "\\Phi", "Ψ": "\\Psi", "Ω": "\\Omega",
    "∑": "\\sum", "∏": "\\prod", "∐": "\\coprod", "∫": "\\int", "∬": "\\iint", "∭": "\\iiint",
    "∮": "\\oint", "⋃": "\\bigcup", "⋂": "\\bigcap", "⨁": "\\bigoplus", "⨂": "\\bigotimes",
    "±": "\\pm", "∓": "\\mp", "×": "\\times", "÷": "\\div", "⋅": "\\cdot", "·": "\\cdot", "∗": "\\ast",
    "∘": "\\circ", "∙": "\\bullet", "⊕": "\\oplus", "⊗": "\\otimes", "∪": "\\cup", "∩": "\\cap",
    "∧": "\\wedge", "∨": "\\vee", "¬": "\\neg", "∖": "\\setminus", "−": "-", "′": "'", "″": "''",
    "≤": "\\leq", "≥": "\\geq", "≠": "\\neq", "≈": "\\approx", "≡": "\\equiv", "∼": "\\sim",
    "≃": "\\simeq", "≅": "\\cong", "∝": "\\propto", "≪": "\\ll", "≫": "\\gg", "≺": "\\prec", "≻": "\\succ",
    "∈": "\\in", "∉": "\\notin", "∋": "\\ni", "⊂": "\\subset", "⊃": "\\supset", "⊆": "\\subseteq",
    "⊇": "\\supseteq", "∅": "\\emptyset", "∀": "\\forall", "∃": "\\exists", "∄": "\\nexists",
    "∞": "\\infty", "∂": "\\partial", "∇": "\\nabla", "ℓ": "\\ell", "ℏ": "\\hbar", "ℵ": "\\aleph",
    "→": "\\to", "←": "\\leftarrow", "↔": "\\leftrightarrow", "⇒": "\\Rightarrow", "⇐": "\\Leftarrow",
    "⇔": "\\Leftrightarrow", "↦": "\\mapsto", "↑": "\\uparrow", "↓": "\\downarrow", "⟶": "\\longrightarrow",
    "…": "\\ldots", "⋯": "\\cdots", "⋮": "\\vdots", "⋱": "\\ddots", "⟨": "\\langle", "⟩": "\\rangle",
    "⌊": "\\lfloor", "⌋": "\\rfloor", "⌈": "\\lceil", "⌉": "\\rceil", "∥": "\\|", "‖": "\\|", "⊥": "\\perp",
    "∠": "\\angle", "°": "^\\circ", "ℝ": "\\mathbb{R}", "ℕ": "\\mathbb{N}", "ℤ": "\\mathbb{Z}",
    "ℚ": "\\mathbb{Q}", "ℂ": "\\mathbb{C}", "{": "\\{", "}": "\\}", "#": "\\#", "%": "\\%", "&": "\\&",
    "_": "\\_", "\u00a0": " ", "\u2061": "", "\u2062": "", "\u2063": "", "\u2064": "",
}
ACCENTS_OVER = {"^": "\\hat", "ˆ": "\\hat", "~": "\\tilde", "˜": "\\tilde", "¯": "\\overline",
                "‾": "\\overline", "―": "\\overline", "→": "\\vec", "⃗": "\\vec", "˙": "\\dot", "¨": "\\ddot",
                "⏞": "\\overbrace", "︷": "\\overbrace"}
ACCENTS_UNDER = {"_": "\\underline", "¯": "\\underline", "‾": "\\underline", "―": "\\underline",
                 "⏟": "\\underbrace", "︸": "\\underbrace"}
VARIANTS = {"bold": "\\mathbf", "double-struck": "\\mathbb", "fraktur": "\\mathfrak", "script": "\\mathcal",
            "normal": "\\mathrm", "sans-serif": "\\mathsf", "monospace": "\\mathtt"}
SINGLE_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|.", re.S)
ENDS_WITH_COMMAND = re.compile(r"\\[A-Za-z]+$")
TEXT_SPECIALS = re.compile(r"([\\{}$&#%_^~])")


def _symbols(text: str) -> str:
    parts = []
    for c in text:
        if "\U0001d400" <= c <= "\U0001d7ff":  # mathematical alphanumerics: plain letter
            c = unicodedata.normalize("NFKC", c)
        parts.append(SYMBOLS.get(c, c))
    return _join(parts)


def _join(parts: list[str]) -> str:
    """Concatenate TeX pieces, with a space where a command would run into a letter."""
    out = ""
    for p in parts:
        if p and out and p[0].isalpha() and ENDS_WITH_COMMAND.search(out):
            out += " "
        out += p
    return out


def _group(tex: str) -> str:
    """`tex` as one argument for ^ and _: braced unless it is a single token."""
    return tex if SINGLE_TOKEN.fullmatch(tex) else "{" + tex + "}"


class _MathMLConverter:
    """Presentation MathML -> TeX for the common elements; others contribute their children."""

    def __init__(self, budget: int):
        self.left = budget
        self.chars = 0  # TeX written so far: past MAX_TEX_CHARS the formula would be dropped anyway

    def kids(self, node: DOMNode) -> list[DOMNode]:
        """Element children, walked as siblings (indexing `child_nodes` is quadratic)."""
        out, child = [], node.first_child
        while child is not None:
            if child.type == NodeType.ELEMENT:
                out.append(child)
                if len(out) > self.left:
                    raise _TooBig
            child = child.next_sibling
        return out

    def convert(self, node: DOMNode, depth: int) -> str:
        self.left -= 1
        if self.left < 0 or depth > MAX_MATHML_DEPTH:
            raise _TooBig
        tag = (node.tag or "").lower().rpartition(":")[2]
        if tag in ("mi", "mn", "mo", "mtext", "ms"):
            return self.token(node, tag)
        if tag in ("annotation", "annotation-xml", "none", "mprescripts", "mglyph", "malignmark", "mphantom"):
            return ""
        if tag == "mspace":
            return " "
        kids = self.kids(node)
        if tag in ("semantics", "maction"):
            return self.convert(kids[0], depth + 1) if kids else ""
        args = [self.convert(k, depth + 1) for k in kids]
        if tag == "mfrac" and len(args) == 2:
            if (node.getattr("linethickness") or "").strip() in ("0", "0px", "0em", "0pt"):
                return f"\\genfrac{{}}{{}}{{0pt}}{{}}{{{args[0]}}}{{{args[1]}}}"
            return f"\\frac{{{args[0]}}}{{{args[1]}}}"
        if tag == "msqrt":
            return f"\\sqrt{{{_join(args)}}}"
        if tag == "mroot" and len(args) == 2:
            return f"\\sqrt[{args[1]}]{{{args[0]}}}"
        if tag == "msup" and len(args) == 2:
            return f"{_group(args[0])}^{_group(args[1])}"
        if tag == "msub" and len(args) == 2:
            return f"{_group(args[0])}_{_group(args[1])}"
        if tag == "msubsup" and len(args) == 3:
            return f"{_group(args[0])}_{_group(args[1])}^{_group(args[2])}"
        if tag in ("mover", "munder") and len(args) == 2:
            return self.under_over(tag, kids, args)
        if tag == "munderover" and len(args) == 3:
            return f"{_group(args[0])}_{_group(args[1])}^{_group(args[2])}"
        if tag == "mtable":
            return "\\begin{matrix}" + " \\\\ ".join(args) + "\\end{matrix}"
        if tag in ("mtr", "mlabeledtr"):
            cells = args[1:] if tag == "mlabeledtr" else args
            return " & ".join(cells)
        if tag == "mfenced":
            open_, close = node.getattr("open"), node.getattr("close")
            seps = node.getattr("separators")
            sep = (seps.strip()[:1] if seps is not None else ",")
            return _symbols("(" if open_ is None else open_) + sep.join(args) + _symbols(")" if close is None else close)
        if tag == "mmultiscripts" and args:
            return self.multiscripts(kids, args)
        return _join(args)

    def token(self, node: DOMNode, tag: str) -> str:
        text = node.text or ""
        self.chars += len(text)
        if self.chars > MAX_TEX_CHARS:
            raise _TooBig
        if tag == "mtext" or tag == "ms":
            if not text.strip():
                return "\\ " if text else ""
            return "\\text{" + TEXT_SPECIALS.sub(r"\\\1", text) + "}"
        text = text.strip()
        if tag == "mi" and len(text) > 1:
            return "\\" + text if text in FUNCTIONS else "\\mathrm{" + _symbols(text) + "}"
        tex = _symbols(text)
        variant = node.getattr("mathvariant")
        if tag == "mi" and variant in VARIANTS and text.isalnum():
            return f"{VARIANTS[variant]}{{{tex}}}"
        return tex

    def under_over(self, tag: str, kids: list[DOMNode], args: list[str]) -> str:
        base, mark = args
        mark_text = (kids[1].text or "").strip() if kids[1].tag in ("mo", "mi") else ""
        accents = ACCENTS_OVER if tag == "mover" else ACCENTS_UNDER
        if mark_text in accents:
            return f"{accents[mark_text]}{{{base}}}"
        base_text = (kids[0].text or "").strip()
        if base_text in LARGE_OPERATORS:
            return f"{_group(base)}{'^' if tag == 'mover' else '_'}{_group(mark)}"
        return f"\\{'overset' if tag == 'mover' else 'underset'}{{{mark}}}{{{base}}}"

    def multiscripts(self, kids: list[DOMNode], args: list[str]) -> str:
        base, post, pre, seen_pre = args[0], [], [], False
        for kid, arg in zip(kids[1:], args[1:], strict=True):
            if (kid.tag or "").rpartition(":")[2] == "mprescripts":
                seen_pre = True
                continue
            (pre if seen_pre else post).append(arg)

        def scripts(pairs: list[str]) -> str:
            out = ""
            for i in range(0, len(pairs) - 1, 2):
                sub, sup = pairs[i], pairs[i + 1]
                out += (f"_{_group(sub)}" if sub else "") + (f"^{_group(sup)}" if sup else "")
            return out

        prefix = "{}" + scripts(pre) if pre else ""
        return prefix + _group(base) + scripts(post)
