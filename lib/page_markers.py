"""Which of the marker strings that the page passes test before parsing occur in a page.

Why: ingest asks of every page whether it may hold formulas (lib.ingest.formulas), Q&A
markup (lib.qa.markup) or forum posts (lib.ingest.qa_text), some thirty substrings in all.
Tested one `in` at a time that is thirty passes over 140 KB of HTML, 2.7 ms a page on
the Webis archive: more than the main-text extractor. Here each module declares its
strings with `watch()` and `present()` finds all of them in one scan per page, with
Hyperscan (a multi-string matcher) where its wheel exists, else the plain `in` loop.
Matching is exact and case-sensitive either way, so both give the same answer.

A page is scanned once however many passes ask: the last page's result is kept per
thread, by identity of the string, which the memo holds so the identity stays unique.
"""

from __future__ import annotations

import re
import threading

try:  # wheels for Linux x86_64, macOS and Windows; not for Linux aarch64 (Graviton)
    import hyperscan
except ImportError:  # pragma: no cover - exercised by forcing the fallback in the tests
    hyperscan = None

_watched: dict[str, None] = {}  # insertion-ordered set
_lock = threading.Lock()
_local = threading.local()
_compiled: tuple[int, object] | None = None  # (number of strings compiled, hyperscan database)


def watch(*strings: str) -> tuple[str, ...]:
    """Register marker strings (at import time of the module testing them); returns them."""
    with _lock:
        for s in strings:
            if not s or not s.isascii():
                raise ValueError(f"a page marker must be non-empty ASCII, got {s!r}")
            _watched.setdefault(s, None)
    return strings


def present(html: str) -> frozenset[str]:
    """The watched strings that occur in `html`."""
    memo = getattr(_local, "memo", None)
    if memo is not None and memo[0] is html and memo[1] == len(_watched):
        return memo[2]
    found = _scan(html)
    _local.memo = (html, len(_watched), found)
    return found


def backend() -> str:
    return "hyperscan" if hyperscan is not None else "substring"


def _scan(html: str) -> frozenset[str]:
    strings = tuple(_watched)
    if hyperscan is None:
        return frozenset(s for s in strings if s in html)
    db, scratch = _database(strings)
    hits: set[int] = set()

    def on_match(ident: int, start: int, end: int, flags: int, context: object) -> None:
        hits.add(ident)

    # The markers are ASCII, so they occur in the UTF-8 bytes exactly where they occur in the text.
    db.scan(html.encode("utf-8", "surrogatepass"), match_event_handler=on_match, scratch=scratch)
    return frozenset(strings[i] for i in hits)


def _database(strings: tuple[str, ...]):
    """The compiled database for the strings watched now, and this thread's scratch space."""
    global _compiled
    with _lock:
        if _compiled is None or _compiled[0] != len(strings):
            db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            db.compile(expressions=[re.escape(s).encode("ascii") for s in strings],
                       ids=list(range(len(strings))),
                       flags=[hyperscan.HS_FLAG_SINGLEMATCH] * len(strings))
            _compiled = (len(strings), db)
        db = _compiled[1]
    scratch = getattr(_local, "scratch", None)
    if scratch is None or scratch[0] is not db:
        scratch = (db, hyperscan.Scratch(db))
        _local.scratch = scratch
    return db, scratch[1]
