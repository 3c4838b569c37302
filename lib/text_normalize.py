"""The one text normalisation dedup uses, for the exact hash and for shingles alike.

Rule, in order:
  1. Unicode NFKC (full-width letters, ligatures and compatibility forms fold together);
  2. lower case (`str.lower`);
  3. every punctuation character (Unicode general category P*) becomes a space, so
     "end.Start" stays two words and "don't" becomes "don t";
  4. runs of whitespace collapse to one space; leading and trailing space is removed.

Symbols (category S*: $, +, =, emoji) and digits are kept: in maths pages "x+1" and
"x=1" are different content. Two documents are exact duplicates when their normalised
texts are equal.
"""

from __future__ import annotations

import hashlib
import sys
import unicodedata

_PUNCT_TO_SPACE = {
    cp: " " for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)).startswith("P")
}


def normalize(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).lower().translate(_PUNCT_TO_SPACE)
    return " ".join(folded.split())


def exact_hash(normalized: str) -> str:
    """blake2b-128 of the normalised text, hex."""
    return hashlib.blake2b(normalized.encode("utf-8"), digest_size=16).hexdigest()
