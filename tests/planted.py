"""Planted near-duplicates built from real pages: the edits a crawl makes to a page
(words changed, paragraphs moved, boilerplate added or dropped), seeded so every run sees
the same set. Shared by the dedup tests and bench/dedup.py."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

BOILERPLATE = [
    "Share this page on social media",
    "Subscribe to our newsletter for weekly updates",
    "We use cookies to improve your experience. Accept all cookies",
    "Copyright all rights reserved",
    "Related posts you might also like",
    "Leave a comment below and join the discussion",
    "Click here to print this page",
]


def load_pages(folder: Path, min_words: int = 150) -> list[dict]:
    """Real pages with their human-verified main text, in file order."""
    rows = [json.loads(line) for line in open(folder / "labels.jsonl", encoding="utf-8")]
    return [r for r in rows if len(r["main_content"].split()) >= min_words]


def raw_html(folder: Path, row: dict) -> str:
    return gzip.decompress((folder / row["html"]).read_bytes()).decode("utf-8", "replace")


def replace_words(text: str, share: float, rng: random.Random, vocabulary: list[str]) -> str:
    lines = text.split("\n")
    positions = [(i, j) for i, line in enumerate(lines) for j, _ in enumerate(line.split(" "))]
    chosen = rng.sample(positions, max(1, int(len(positions) * share)))
    words = [line.split(" ") for line in lines]
    for i, j in chosen:
        words[i][j] = rng.choice(vocabulary)
    return "\n".join(" ".join(w) for w in words)


def reorder_paragraphs(text: str, rng: random.Random) -> str:
    paras = [p for p in text.split("\n") if p.strip()]
    if len(paras) > 2:  # move one paragraph elsewhere, as templated re-posts do
        p = paras.pop(rng.randrange(len(paras)))
        paras.insert(rng.randrange(len(paras) + 1), p)
    return "\n".join(paras)


def edit_boilerplate(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    if rng.random() < 0.5:
        lines = [rng.choice(BOILERPLATE)] + lines + rng.sample(BOILERPLATE, 2)
    else:
        short = [i for i, line in enumerate(lines) if 0 < len(line.split()) < 12]
        if short:
            lines.pop(rng.choice(short))
        lines.append(rng.choice(BOILERPLATE))
    return "\n".join(lines)


def variant(text: str, rng: random.Random, vocabulary: list[str], share: float | None = None) -> str:
    """One edited copy: 5-10% of words replaced, then paragraphs and boilerplate shuffled."""
    out = replace_words(text, share if share is not None else rng.uniform(0.05, 0.10), rng, vocabulary)
    if rng.random() < 0.7:
        out = reorder_paragraphs(out, rng)
    if rng.random() < 0.7:
        out = edit_boilerplate(out, rng)
    return out


def light_variant(text: str, rng: random.Random, vocabulary: list[str]) -> str:
    """A copy with 1% of words changed plus boilerplate: true Jaccard usually above 0.8."""
    return variant(text, rng, vocabulary, share=0.01)


def vocabulary_of(pages: list[dict]) -> list[str]:
    words = sorted({w for p in pages for w in p["main_content"].split() if w.isalpha() and len(w) > 3})
    return words
