"""Main-text extraction quality against human ground truth, and speed.

Token-level precision, recall and F1 (multisets of lower-cased word tokens, mean over
pages) of each extractor configuration on the 699 labelled pages of
../shared/data/pages/wceb2026 (also split by page type) and the 181 news pages of
../shared/data/pages/scrapinghub_news, with the median milliseconds per page. HTML bytes
are decoded with the same lib.ingest.charset the ingest job uses.

Answer coverage ("answers"): on every page with schema.org Q&A markup (JSON-LD, microdata,
RDFa; lib.qa.markup), the share of each question's and answer's word tokens found in the
extracted text, averaged over the page's questions and answers, then over pages: whether
what a Q&A page says reaches the text that extraction reads.

    .venv/bin/python -m bench.extraction_quality [--limit N]
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

from webinstruct.jobs.core.config import IngestSection
from webinstruct.lib.ingest.charset import decode_html
from webinstruct.lib.ingest.qa_text import qa_blocks, qa_main_text, with_missing_markup
from webinstruct.lib.ingest.text_extract import ExtractOptions, extract_text
from webinstruct.lib.qa.markup import MarkupResult, extract_qa_markup

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "pages"
TOKEN = re.compile(r"\w+", re.UNICODE)

CONFIGS = {
    "resiliparse main_content": ExtractOptions("resiliparse", main_content=True, comments=True),
    "resiliparse main_content, no comments": ExtractOptions("resiliparse", main_content=True, comments=False),
    "resiliparse full page": ExtractOptions("resiliparse", main_content=False),
    "trafilatura": ExtractOptions("trafilatura", comments=True),
    "trafilatura favor_recall": ExtractOptions("trafilatura", comments=True, favor_recall=True),
    "qa-aware (resiliparse fallback)": "qa-aware",
}
FALLBACK = CONFIGS["resiliparse main_content"]
MAX_CHARS = IngestSection().max_chars  # ingest's default


def run_config(opts, html: str, url: str | None, markup: MarkupResult | None = None) -> str:
    """The text one configuration gives; "qa-aware" is what ingest does by default (the Q&A
    pass with the page's markup, resiliparse elsewhere, then what the markup answers and the
    text lacks)."""
    if opts == "qa-aware":
        found = qa_main_text(html, url, markup)
        text = found[1] if found is not None else extract_text(html, url, FALLBACK)[1]
        return with_missing_markup(text, markup, MAX_CHARS) if text else text
    return extract_text(html, url, opts)[1]


def markup_coverage(pages: list[dict]) -> None:
    """Share of answered schema.org Question nodes that became pairs, and what was found."""
    page_types: Counter = Counter()
    nodes: Counter = Counter()
    errors: Counter = Counter()
    answered = with_pairs = pairs = 0
    for p in pages:
        if p["set"] != "wceb2026":
            continue
        result = extract_qa_markup(p["text_html"], p["url"])
        for key in {k.split(":", 1)[1] for k in result.counts if ":" in k}:
            page_types[key] += 1
        nodes.update(result.counts)
        errors.update(result.errors)
        pairs += len(result.pairs)
        paired = {pair.question for pair in result.pairs}
        for q in result.questions:
            if q.answers:
                answered += 1
                with_pairs += q.text in paired
    print("schema.org Q&A markup on wceb2026 (lib/qa/markup):")
    print("  pages with markup: " + ", ".join(f"{k} {v}" for k, v in sorted(page_types.items())))
    print("  nodes: " + ", ".join(f"{k} {v}" for k, v in sorted(nodes.items())))
    print(f"  Question nodes with an answer {answered} (after dedup), without {errors['question_without_answer']}"
          f" (excluded); pairs produced {pairs}")
    print(f"  share of answered Questions giving pairs: {with_pairs / answered if answered else 0:.3f}")
    print("  problems: " + (", ".join(f"{k} {v}" for k, v in sorted(errors.items())) or "none"))


def forum_ceiling(pages: list[dict]) -> None:
    """Best F1 any choice of how many leading posts to keep could reach on the forum pages.

    The forum labels are not one convention: some are the whole thread, some the first
    post, some a written summary of the thread. An oracle that picks, per page, the number
    of leading posts (or the fallback text) that scores best bounds what post selection can
    reach on this set.
    """
    scores = []
    for p in pages:
        if p["set"] != "wceb2026" or p["type"] != "forum":
            continue
        candidates = [extract_text(p["text_html"], p["url"], FALLBACK)[1]]
        found = qa_blocks(p["text_html"], p["url"])
        if found is not None:
            blocks = found[1]
            candidates += ["\n\n".join(blocks[:k]) for k in range(1, len(blocks) + 1)]
        scores.append(max(prf(c, p["truth"])[2] for c in candidates))
    if scores:
        print(f"forum pages: F1 ceiling of post selection (oracle prefix per page) {statistics.fmean(scores):.3f}"
              f" over {len(scores)} pages")


def tokens(text: str) -> Counter:
    return Counter(t.lower() for t in TOKEN.findall(text))


def prf(pred: str, truth: str) -> tuple[float, float, float]:
    p, t = tokens(pred), tokens(truth)
    common = sum((p & t).values())
    precision = common / sum(p.values()) if p else 0.0
    recall = common / sum(t.values()) if t else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def qa_items(markup: MarkupResult) -> list[str]:
    """The texts of the page's marked-up questions and their answers (accepted and suggested)."""
    items = []
    for q in markup.questions:
        if q.answers:
            items.append(q.text)
            items.extend(a.text for a in q.answers)
    return items


def answer_coverage(text: str, items: list[str]) -> float | None:
    """Mean over `items` of the share of each one's word tokens that the text holds."""
    have = tokens(text)
    shares = []
    for item in items:
        want = tokens(item)
        if want:
            shares.append(sum((want & have).values()) / sum(want.values()))
    return statistics.fmean(shares) if shares else None


def load_pages(limit: int | None) -> list[dict]:
    pages = []
    for line in (DATA / "wceb2026" / "labels.jsonl").read_text().splitlines():
        row = json.loads(line)
        pages.append({"set": "wceb2026", "type": row["page_type"], "url": row["url"],
                      "html": gzip.decompress((DATA / "wceb2026" / row["html"]).read_bytes()), "truth": row["main_content"]})
    truth = json.loads((DATA / "scrapinghub_news" / "ground-truth.json").read_text())
    for key, row in sorted(truth.items()):
        pages.append({"set": "scrapinghub_news", "type": "news", "url": row.get("url"),
                      "html": gzip.decompress((DATA / "scrapinghub_news" / "html" / f"{key}.html.gz").read_bytes()),
                      "truth": row["articleBody"]})
    if limit:
        by_set = defaultdict(list)
        for p in pages:
            by_set[p["set"]].append(p)
        pages = [p for group in by_set.values() for p in group[:limit]]
    return pages


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="pages per set (quick runs)")
    args = ap.parse_args()
    if not DATA.exists():
        sys.exit(f"ground-truth pages not found at {DATA}")
    pages = load_pages(args.limit)
    for p in pages:
        p["text_html"] = decode_html(p["html"], None)[0]
        p["markup"] = extract_qa_markup(p["text_html"], p["url"])
        p["qa_items"] = qa_items(p["markup"])
    print(f"{len(pages)} pages: " + ", ".join(f"{k} {v}" for k, v in Counter(p['set'] for p in pages).items())
          + f"; {sum(1 for p in pages if p['qa_items'])} with answered schema.org Q&A markup")
    header = (f"{'configuration':40} {'set':18} {'pages':>5} {'P':>6} {'R':>6} {'F1':>6} {'ms/page':>8}"
              f" {'answers':>8} {'pages':>5}")
    print(header)
    print("-" * len(header))
    for name, opts in CONFIGS.items():
        groups: dict[str, list] = defaultdict(list)
        covered: dict[str, list] = defaultdict(list)
        times = []
        for p in pages:
            start = time.perf_counter()
            text = run_config(opts, p["text_html"], p["url"], p["markup"])
            times.append((time.perf_counter() - start) * 1000)
            score = prf(text, p["truth"])
            groups[p["set"]].append(score)
            coverage = answer_coverage(text, p["qa_items"])
            if coverage is not None:
                covered[p["set"]].append(coverage)
            if p["set"] == "wceb2026":
                groups[f"  {p['type']}"].append(score)
                if coverage is not None:
                    covered[f"  {p['type']}"].append(coverage)
        ms = statistics.median(times)
        for group in ["wceb2026", *sorted(g for g in groups if g.startswith("  ")), "scrapinghub_news"]:
            scores = groups.get(group)
            if not scores:
                continue
            mean = [statistics.fmean(s[i] for s in scores) for i in range(3)]
            cov = covered.get(group)
            answers = f"{statistics.fmean(cov):8.3f} {len(cov):5d}" if cov else f"{'-':>8} {0:5d}"
            print(f"{name:40} {group:18} {len(scores):5d} {mean[0]:6.3f} {mean[1]:6.3f} {mean[2]:6.3f} {ms:8.1f} {answers}")
        print()
    forum_ceiling(pages)
    markup_coverage(pages)


if __name__ == "__main__":
    main()
