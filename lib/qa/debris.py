"""Forum debris in answers: what a forum post carries that is not the answer. A quoted earlier
post ("@JonB said in Which Qt6 version for Ubuntu 24.04: Has anybody ..." from NodeBB,
"X wrote:", "Quote from X", "Originally Posted by X", `> ` lines), a signature after
"-- ", "Sent from my iPhone using Tapatalk" and edit stamps ("Last edited by X on ...").

The quote's attribution line goes with the quoted paragraph that follows it (up to the
first blank line, or the first line when the post has no blank lines); the reply's own
text stays. A post that is nothing but debris comes back empty, and the caller rejects the
pair with a reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from webinstruct.lib.math_spans import inside, math_spans

MAX_SCAN_CHARS = 200_000  # answers are far shorter; longer text is cleaned in its head only

QUOTE_HEAD = re.compile(
    r"^\s*(?:@[\w.\-]{1,40} said in [^\n]{1,200}?:|[\w.\- ]{1,40} (?:wrote|writes):|Quote(?: from [^\n]{1,60})?:?|"
    r"Originally Posted by [^\n]{1,80}|In reply to [^\n]{1,80}:|On [^\n]{5,120} wrote:)\s*$", re.IGNORECASE)
INLINE_QUOTE_HEAD = re.compile(r"^\s*@[\w.\-]{1,40} said in [^\n]{1,200}?:\s+", re.IGNORECASE)
# "> quoted text"; not ">>" (a MATLAB or Python prompt) nor "> 0$" (a formula broken over lines)
QUOTE_LINE = re.compile(r"^\s*(?:>|&gt;)(?!>|&gt;)\s+[^\d\s$\\=<>+\-*/^_(){}\[\].,;:]")
SIGNATURE = re.compile(r"^-- ?$")
SENT_FROM = re.compile(r"^\s*Sent (?:from|via) (?:my )?[\w\-. ]{2,60}(?: using [\w\-. ]{2,40})?\.?\s*$", re.IGNORECASE)
EDIT_STAMP = re.compile(r"^\s*(?:\(?(?:Last )?edited(?: by [^\n]{1,60})?(?: on| at)? [^\n]{0,60}\)?|"
                        r"\(?edited \d+ times?[^\n]{0,60}\)?|Message edited by [^\n]{1,80})\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Cleaned:
    text: str
    removed: tuple[str, ...]  # quote | quote_line | signature | sent_from | edit_stamp, one per removal


def _signature(lines: list[str]) -> bool:
    """What follows "--" is a signature: a few short lines, no formula."""
    rest = [x for x in lines if x.strip()]
    return len(rest) <= 4 and sum(len(x) for x in rest) <= 300 and not any(c in x for x in rest for c in "$=\\")


def clean_answer(text: str | None) -> Cleaned:
    if not text:
        return Cleaned(text or "", ())
    head, tail = text[:MAX_SCAN_CHARS], text[MAX_SCAN_CHARS:]
    lines = head.split("\n")
    # the last blank line's index, once (a quoted paragraph ends at a blank line when the post has any after it)
    last_blank = max((j for j, x in enumerate(lines) if not x.strip()), default=-1)
    content_after = [False] * (len(lines) + 1)  # content_after[j]: a line of the post's own at j or later
    for j in range(len(lines) - 1, -1, -1):
        x = lines[j]
        own = bool(x.strip()) and not (SENT_FROM.match(x) or EDIT_STAMP.match(x) or QUOTE_HEAD.match(x) or SIGNATURE.match(x))
        content_after[j] = own or content_after[j + 1]
    out: list[str] = []
    removed: list[str] = []
    formulas = math_spans(head, inline_newlines=True)
    offsets = [0]
    for x in lines[:-1]:
        offsets.append(offsets[-1] + len(x) + 1)
    i = 0
    while i < len(lines):
        line = lines[i]
        in_math = inside(formulas, offsets[i], offsets[i])  # the line starts inside a formula
        if SIGNATURE.match(line) and not in_math and _signature(lines[i + 1:]):  # the rest is the signature
            removed.append("signature")
            break
        head = QUOTE_HEAD.match(line) if not in_math else None
        if head:  # attribution, then the quoted paragraph
            removed.append("quote")
            certain = " said in " in line  # NodeBB's quote header: what follows it is always the quote
            i += 1
            while i < len(lines) and not lines[i].strip():  # the quote may start after a blank line
                i += 1
            end = i
            while end < len(lines) and lines[end].strip():
                end += 1
                if last_blank < i:  # one-line-per-paragraph posts: the quote is the next line
                    break
            if certain or content_after[end]:  # the reply follows (or the header says so): the paragraph was the quote
                i = end
            continue
        inline = INLINE_QUOTE_HEAD.match(line)
        if inline and not in_math:  # "@X said in T: quoted text" on one line, the reply on the next lines
            removed.append("quote")
            i += 1
            continue
        if QUOTE_LINE.match(line) and not in_math:
            removed.append("quote_line")
        elif SENT_FROM.match(line):
            removed.append("sent_from")
        elif EDIT_STAMP.match(line):
            removed.append("edit_stamp")
        else:
            out.append(line)
        i += 1
    cleaned = re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip() + tail
    return Cleaned(cleaned if removed else text, tuple(removed))
