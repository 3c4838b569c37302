"""Turn HTML bytes into text: charset from the HTTP header, then <meta>, then detection.

A declared charset is tried strictly and dropped when the bytes do not decode with it
(pages labelled ISO-8859-1 that are really UTF-8, or GB2312 pages with GBK characters),
so the order expresses trust, not blind obedience. Labels are mapped the way browsers map
them (WHATWG): ISO-8859-1 means windows-1252, GB2312 means GB18030, and so on.
"""

from __future__ import annotations

import codecs
import re

from resiliparse.parse.encoding import detect_encoding, map_encoding_to_html5

_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE
)

# WHATWG label -> the Python codec that decodes what browsers decode for it.
_PY_CODEC = {
    "windows-1252": "cp1252",
    "iso-8859-1": "cp1252",
    "us-ascii": "cp1252",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "gb18030": "gb18030",
    "big5": "big5hkscs",
    "shift_jis": "cp932",
    "euc-kr": "cp949",
    "euc_kr": "cp949",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "euc-jp": "euc_jp",
    "iso-2022-jp": "iso2022_jp",
    "x-user-defined": "latin-1",
    "utf-16le": "utf-16-le",
    "utf-16be": "utf-16-be",
}


def python_codec(label: str | None) -> str | None:
    """Map a charset label to a Python codec name, or None if unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    html5 = map_encoding_to_html5(label, fallback_utf8=False)
    name = (html5 or label).lower()
    name = _PY_CODEC.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def meta_charset(html: bytes, scan_bytes: int = 4096) -> str | None:
    match = _META_CHARSET.search(html[:scan_bytes])
    return match.group(1).decode("ascii", "ignore") if match else None


def decode_html(html: bytes, http_charset: str | None) -> tuple[str, str, str]:
    """Return (text, codec, source) where source is bom|http|meta|detected|fallback."""
    for bom, codec in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if html.startswith(bom):
            return html[len(bom):].decode(codec, "replace"), codec, "bom"
    candidates = [
        ("http", python_codec(http_charset)),
        ("meta", python_codec(meta_charset(html))),
    ]
    for source, codec in candidates:
        if codec and _decodes(html, codec):
            return html.decode(codec), codec, source
    # Undeclared: bytes that are valid UTF-8 are UTF-8 (pure ASCII included); only
    # otherwise ask the detector, which guesses single-byte codepages for ASCII.
    if _decodes(html, "utf-8"):
        return html.decode("utf-8"), "utf-8", "detected"
    detected = python_codec(detect_encoding(html))
    if detected and _decodes(html, detected):
        return html.decode(detected), detected, "detected"
    # Nothing decodes cleanly: trust the most authoritative label, replacing bad bytes.
    codec = next((c for _, c in candidates if c), None) or detected or "cp1252"
    return html.decode(codec, "replace"), codec, "fallback"


def _decodes(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return False
    return True
