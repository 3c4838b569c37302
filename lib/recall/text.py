"""The one text preparation the recall classifier sees, at training and at scoring time.

A classifier trained on text prepared one way and applied to text prepared another way
scores garbage without any error, so both paths call `prepare` and nothing else:

  1. only the head of the page: the first `max_words` tokens (Q&A pages show their
     question early; the head also bounds the work per document);
  2. lower case;
  3. URLs and e-mail addresses become the tokens `urltoken` and `emailtoken` (their exact
     text is noise; that a page links a lot is signal);
  4. words and punctuation become separate tokens ("x^2?" -> "x ^ 2 ?"), because fastText
     splits on whitespace only and "?" or "=" are strong Q&A signals;
  5. all whitespace (newlines too: fastText reads one line per example) collapses to
     single spaces.
"""

from __future__ import annotations

import re

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
_TOKEN = re.compile(r"\w+|[^\w\s]")
CHARS_PER_WORD = 12  # head of the text read per wanted token: bounds the regex work on giant pages


def prepare(text: str | None, max_words: int = 512) -> str:
    head = (text or "")[: max_words * CHARS_PER_WORD].lower()
    head = _EMAIL.sub(" emailtoken ", _URL.sub(" urltoken ", head))
    tokens = _TOKEN.findall(head)
    return " ".join(tokens[:max_words])


LABEL_POSITIVE = "__label__pos"
LABEL_NEGATIVE = "__label__neg"


def training_line(prepared: str, positive: bool) -> str:
    return f"{LABEL_POSITIVE if positive else LABEL_NEGATIVE} {prepared}"
