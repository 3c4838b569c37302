"""Split a long document into overlapping windows that fit the model's context.

Windows are measured in the model's own tokens (a character budget would overflow on code
and maths, which tokenize densely) and cut on token boundaries, preferring a line break
near the end of a window so a question is less often split from its answer. Consecutive
windows overlap, so a pair that straddles a cut appears whole in one of them; pairs found
twice are merged by the stage (lib.qa.parse.merge_pairs).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chunk:
    index: int
    start: int  # character offsets into the document text
    end: int
    tokens: int


def plan_chunks(
    text: str,
    offsets: list[tuple[int, int]],
    budget: int,
    overlap: int,
    snap_fraction: float = 0.2,
) -> list[Chunk]:
    """Windows over `text` of at most `budget` tokens, consecutive ones sharing about
    `overlap` tokens. `offsets` are the (start, end) character spans of the text's tokens."""
    if budget < 1:
        raise ValueError(f"chunk budget must be at least one token, got {budget}")
    overlap = max(0, min(overlap, budget // 2))
    n = len(offsets)
    if n <= budget:
        return [Chunk(0, 0, len(text), n)]
    chunks: list[Chunk] = []
    first = 0
    while True:
        last = min(first + budget, n)  # exclusive token index
        if last < n:
            last = _snap_to_break(text, offsets, first, last, int(budget * snap_fraction))
        start = 0 if first == 0 else offsets[first][0]
        end = len(text) if last == n else offsets[last - 1][1]
        chunks.append(Chunk(len(chunks), start, end, last - first))
        if last == n:
            return chunks
        first = max(last - overlap, first + 1)


def _snap_to_break(text: str, offsets, first: int, last: int, window: int) -> int:
    """Move the cut back to just after a line break within the last `window` tokens."""
    floor = max(first + 1, last - window)
    for i in range(last - 1, floor - 1, -1):
        span = text[offsets[i - 1][1] : offsets[i][0] + 1] if i > 0 else ""
        if "\n" in span:
            return i
    return last
