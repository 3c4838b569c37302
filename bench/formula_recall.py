"""Formula recall of main-text extraction on real math pages, with formulas kept as TeX or not.

On the 34 pages of ../shared/data/pages/math_web (see its README), for each page style and
overall: recall = share of a page's labelled formulas whose TeX (whitespace collapsed,
`{\\displaystyle ..}` unwrapped, a leading `\\displaystyle` dropped) occurs in the extracted text, repeats counted (a formula
listed k times needs k occurrences), averaged over pages; "pooled" is the same over all
formulas at once. "twice" counts formulas rendered more often than the page lists them:
occurrences of the TeX between matching math delimiters (`$`, `$$`, `\\(..\\)`, `\\[..\\]`)
beyond the label count, so a duplicate rendering is caught while plain letters in prose are not. Also the
median milliseconds per page. The rule being measured: lib/ingest/formulas.py.

    .venv/bin/python -m bench.formula_recall [--pages]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from webinstruct.lib.ingest.charset import decode_html
from webinstruct.lib.ingest.text_extract import ExtractOptions, extract_text

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "pages" / "math_web"

CONFIGS = {
    "resiliparse main_content, formulas": ExtractOptions("resiliparse", main_content=True),
    "resiliparse main_content, no formulas": ExtractOptions("resiliparse", main_content=True, formulas=False),
    "trafilatura, formulas": ExtractOptions("trafilatura"),
    "trafilatura, no formulas": ExtractOptions("trafilatura", formulas=False),
}
# A formula between matching math delimiters; a `$` glued to a word (R's `df$Freq`) opens nothing.
DELIMITED = r"(?<![\w$\\])\$\$ ?{0} ?\$\$|(?<![\w$\\])\$ ?{0} ?\$(?!\$)|\\\( ?{0} ?\\\)|\\\[ ?{0} ?\\\]"
DISPLAYSTYLE = re.compile(r"\{\\displaystyle\s*(.*)\}", re.S)
DISPLAYSTYLE_PREFIX = re.compile(r"^\\displaystyle(?![A-Za-z])\s*")


def normalise(tex: str) -> str:
    """Whitespace collapsed, an outer `{\\displaystyle ..}` unwrapped and a leading `\\displaystyle`
    dropped: the same formula, since `$$..$$` already means display style."""
    tex = " ".join(tex.split())
    match = DISPLAYSTYLE.fullmatch(tex)
    tex = match.group(1).strip() if match else tex
    return DISPLAYSTYLE_PREFIX.sub("", tex, count=1)


def score(text: str, formulas: list[str]) -> tuple[int, int, int]:
    """(formulas found, formulas listed, extra delimited renderings) for one page."""
    text = " ".join(text.split())
    found = twice = 0
    for tex, k in Counter(normalise(f) for f in formulas).items():
        if not tex:
            k_found = k
        else:
            k_found = min(k, text.count(tex))
            delimited = len(re.findall(DELIMITED.replace("{0}", re.escape(tex)), text))
            twice += max(0, delimited - k)
        found += k_found
    return found, len(formulas), twice


def load_pages() -> list[dict]:
    pages = []
    for line in (DATA / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        raw = gzip.decompress((DATA / "html" / f"{row['file_id']}.html.gz").read_bytes())
        pages.append({**row, "html_text": decode_html(raw, None)[0]})
    return pages


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", action="store_true", help="also print recall per page")
    args = ap.parse_args()
    if not DATA.exists():
        sys.exit(f"math pages not found at {DATA}")
    pages = load_pages()
    styles = sorted({p["style"] for p in pages})
    print(f"{len(pages)} pages, {sum(len(p['formulas']) for p in pages)} formulas: "
          + ", ".join(f"{s} {sum(p['style'] == s for p in pages)}" for s in styles))
    results: dict[str, dict[str, tuple]] = {}
    for name, opts in CONFIGS.items():
        per_page, times = {}, []
        for p in pages:
            start = time.perf_counter()
            _, text = extract_text(p["html_text"], p["url"] or None, opts)
            times.append((time.perf_counter() - start) * 1000)
            per_page[p["file_id"]] = score(text, p["formulas"])
        groups = defaultdict(list)
        for p in pages:
            groups[p["style"]].append(per_page[p["file_id"]])
            groups["overall"].append(per_page[p["file_id"]])
        results[name] = {g: _summary(v) for g, v in groups.items()} | {"ms": statistics.median(times),
                                                                      "pages": per_page}
    header = f"{'configuration':40} {'style':8} {'pages':>5} {'formulas':>8} {'recall':>7} {'pooled':>7} {'twice':>6} {'ms/page':>8}"
    print(header)
    print("-" * len(header))
    for name, res in results.items():
        for group in [*styles, "overall"]:
            n, listed, recall, pooled, twice = res[group]
            print(f"{name:40} {group:8} {n:5d} {listed:8d} {recall:7.3f} {pooled:7.3f} {twice:6d} {res['ms']:8.1f}")
        print()
    if args.pages:
        names = list(results)
        print("recall per page: " + " | ".join(names))
        for p in pages:
            cells = []
            for name in names:
                found, listed, twice = results[name]["pages"][p["file_id"]]
                cells.append(f"{found / listed if listed else 1:.2f}" + (f" ({twice} twice)" if twice else ""))
            print(f"{p['file_id']} {p['style']:8} {len(p['formulas']):4d}  " + "  ".join(f"{c:>14}" for c in cells))


def _summary(scores: list[tuple[int, int, int]]) -> tuple[int, int, float, float, int]:
    listed = sum(s[1] for s in scores)
    recall = statistics.fmean(s[0] / s[1] if s[1] else 1.0 for s in scores)
    pooled = sum(s[0] for s in scores) / listed if listed else 1.0
    return len(scores), listed, recall, pooled, sum(s[2] for s in scores)


if __name__ == "__main__":
    main()
