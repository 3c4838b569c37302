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


def clean_answer(text: str | None) -> Cleaned:
    if not text:
        return Cleaned(text or "", ())
    head, tail = text[:MAX_SCAN_CHARS], text[MAX_SCAN_CHARS:]
    lines = head.split("\n")
    out: list[str] = []
    removed: list[str] = []
    i, dollars = 0, 0  # "$" seen so far: odd means this line starts inside a formula
    while i < len(lines):
        line = lines[i]
        in_math = dollars % 2 == 1
        dollars += line.count("$") - line.count("\\$")
        if SIGNATURE.match(line):  # the rest is the signature
            removed.append("signature")
            break
        if QUOTE_HEAD.match(line):  # attribution, then the quoted paragraph
            removed.append("quote")
            i += 1
            while i < len(lines) and not lines[i].strip():  # the quote may start after a blank line
                i += 1
            blank = any(not x.strip() for x in lines[i:])
            while i < len(lines) and lines[i].strip():
                i += 1
                if not blank:  # one-line-per-paragraph posts: the quote is the next line
                    break
            continue
        inline = INLINE_QUOTE_HEAD.match(line)
        if inline:  # "@X said in T: quoted text" on one line, the reply on the next lines
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
