"""Where the formulas of a text are: `$...$`, `$$...$$`, `\\(...\\)`, `\\[...\\]` and
align-like environments, found in one pass over their delimiters (linear however many
stray `$` a hostile text holds). PII redaction leaves formulas alone, and debris cleaning
never reads a formula line as a quote.
"""

from __future__ import annotations

import re

DELIMS = re.compile(r"(?<!\\)\$\$|(?<!\\)\$|\\\(|\\\)|\\\[|\\\]|\\(?:begin|end)\{(?:align|equation|gather|eqnarray|multline)\*?\}")
MAX_CHARS = {"$$": 4000, "$": 1000, "\\(": 2000, "\\[": 4000, "begin": 8000}  # longer is no formula: a stray opener


def _kind(tok: str) -> str:
    return "begin" if tok.startswith("\\begin") else "end" if tok.startswith("\\end") else tok


CLOSER = {"$$": "$$", "$": "$", "\\(": "\\)", "\\[": "\\]", "begin": "end"}


def math_spans(text: str, inline_newlines: bool = False) -> list[tuple[int, int]]:
    """The formulas' (start, end), sorted and disjoint. Each opener pairs with its closer;
    one left open past its length cap is dropped and the next delimiter starts over. `$...$`
    stays on one line unless `inline_newlines` (forum posts wrap long inline formulas)."""
    spans: list[tuple[int, int]] = []
    opener, start = None, 0
    for m in DELIMS.finditer(text):
        tok = _kind(m.group())
        if opener is not None and tok == CLOSER[opener] and m.start() - start <= MAX_CHARS[opener] \
                and (inline_newlines or opener != "$" or "\n" not in text[start:m.start()]):
            spans.append((start, m.end()))
            opener = None
        elif tok in CLOSER:
            opener, start = tok, m.start()
    return spans


def inside(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether [start, end) lies in one of `spans` (sorted, disjoint): a binary search."""
    lo, hi = 0, len(spans)
    while lo < hi:
        mid = (lo + hi) // 2
        if spans[mid][0] <= start:
            lo = mid + 1
        else:
            hi = mid
    return lo > 0 and spans[lo - 1][1] >= end
