"""Parse the HTTP response stored in a WARC record block, checking headers against bytes.

Real archives lie: the SERP archive's status lines read `HTTP/1.1 HTTP/1.1 200 OK`, and
most of its records announce chunked and gzip transfer although the stored bodies are
plain (crawlers often store the body already decoded but keep the original headers). So
every decoding step here is attempted only when the bytes look like that encoding, and a
failed attempt leaves the body as it was rather than losing the page.

Decompression is bounded as it runs, never checked afterwards: a 780 KB brotli body can
inflate to 4 GiB, so no decoder is ever asked for more than `max_bytes` plus one step.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field

import brotli

_STATUS_RE = re.compile(rb"(?<![\d.])(\d{3})(?![\d.])")
_CHUNK_SIZE_RE = re.compile(rb"[0-9A-Fa-f]+")
_STEP = 1 << 16  # most output one bounded brotli step may add beyond the cap

HTML_MIME_TYPES = ("text/html", "application/xhtml+xml")


class PayloadDecodeError(ValueError):
    """The body claims an encoding we can check, and the bytes do not decode."""


@dataclass
class HttpResponse:
    status: int | None
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names; last value wins
    body: bytes = b""

    @property
    def mime_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str | None:
        match = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", self.headers.get("content-type", ""), re.I)
        return match.group(1) if match else None

    @property
    def is_html(self) -> bool:
        return self.mime_type in HTML_MIME_TYPES


def parse_status(line: bytes) -> int | None:
    """First three-digit number after the protocol token(s) of a status line."""
    match = _STATUS_RE.search(line)
    return int(match.group(1)) if match else None


def parse_http_response(block: bytes) -> HttpResponse:
    """Split a record block into status, headers and (undecoded) body."""
    end, sep_len = _header_end(block)
    if end < 0:
        head, body = block, b""
    else:
        head, body = block[:end], block[end + sep_len:]
    lines = head.split(b"\n")
    status = parse_status(lines[0]) if lines and lines[0].upper().startswith(b"HTTP") else None
    headers: dict[str, str] = {}
    for raw in lines[1:]:
        name, sep, value = raw.partition(b":")
        if not sep:
            continue
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return HttpResponse(status=status, headers=headers, body=body)


def _header_end(block: bytes) -> tuple[int, int]:
    crlf = block.find(b"\r\n\r\n")
    lf = block.find(b"\n\n")
    if crlf >= 0 and (lf < 0 or crlf <= lf):
        return crlf, 4
    if lf >= 0:
        return lf, 2
    return -1, 0


def decode_body(resp: HttpResponse, max_bytes: int) -> bytes:
    """Undo transfer and content encodings that the bytes actually carry.

    Raises PayloadDecodeError when a body that does look encoded fails to decode, and
    when decoding would exceed `max_bytes` (a decompression bomb, or a page too big to
    be worth parsing).
    """
    body = resp.body
    if "chunked" in resp.headers.get("transfer-encoding", "").lower():
        body = _dechunk_if_chunked(body)
    codings = [c.strip().lower() for c in resp.headers.get("content-encoding", "").split(",") if c.strip()]
    for coding in reversed(codings):
        body = _decode_content(body, coding, max_bytes)
    if len(body) > max_bytes:
        raise PayloadDecodeError(f"body of {len(body)} bytes exceeds {max_bytes}")
    return body


def _dechunk_if_chunked(body: bytes) -> bytes:
    """Decode chunked framing; if the body is not really chunked, return it unchanged."""
    out = []
    pos = 0
    n = len(body)
    while True:
        eol = body.find(b"\n", pos)
        if eol < 0:
            return body if not out else b"".join(out)  # truncated framing: keep what decoded
        size_token = body[pos:eol].split(b";", 1)[0].strip()
        if not _CHUNK_SIZE_RE.fullmatch(size_token):
            return body if not out else b"".join(out)
        size = int(size_token, 16)
        if size == 0:
            return b"".join(out)
        start = eol + 1
        if start + size > n:
            out.append(body[start:])
            return b"".join(out)
        out.append(body[start:start + size])
        pos = start + size
        if body[pos:pos + 2] == b"\r\n":
            pos += 2
        elif body[pos:pos + 1] == b"\n":
            pos += 1
        elif pos < n:
            # Data after a chunk that is not a line break: this was never chunked.
            return body


def _decode_content(body: bytes, coding: str, max_bytes: int) -> bytes:
    if coding in ("identity", "none", ""):
        return body
    if coding in ("gzip", "x-gzip"):
        if not body.startswith(b"\x1f\x8b"):
            return body  # header kept, body stored decoded
        return _inflate(body, 47, max_bytes, coding)
    if coding == "deflate":
        if body[:1] == b"\x78":
            return _inflate(body, 15, max_bytes, coding)
        try:
            return _inflate(body, -15, max_bytes, coding)
        except PayloadDecodeError:
            return body
    if coding == "br":
        if _looks_like_markup(body):
            return body
        return _unbrotli(body, max_bytes)
    if _looks_like_markup(body):
        return body
    raise PayloadDecodeError(f"unsupported content-encoding {coding!r}")


def _inflate(body: bytes, wbits: int, max_bytes: int, coding: str) -> bytes:
    """zlib stops at `max_length`: one call never produces more than max_bytes + 1."""
    decomp = zlib.decompressobj(wbits)
    try:
        out = decomp.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise PayloadDecodeError(f"{coding} body does not decode: {exc}") from exc
    if len(out) > max_bytes:
        raise PayloadDecodeError(f"{coding} body expands beyond {max_bytes} bytes")
    return out


def _unbrotli(body: bytes, max_bytes: int) -> bytes:
    """Decode in steps of at most about _STEP bytes, stopping once past `max_bytes`."""
    decomp = brotli.Decompressor()
    out = bytearray()
    try:
        step = decomp.process(body, output_buffer_limit=_STEP)
        while True:
            out += step
            if len(out) > max_bytes:
                raise PayloadDecodeError(f"br body expands beyond {max_bytes} bytes")
            if decomp.is_finished():
                return bytes(out)
            step = decomp.process(b"", output_buffer_limit=_STEP)
            if not step and not decomp.is_finished():  # all input used, stream not ended
                raise PayloadDecodeError("br body does not decode: stream is truncated")
    except brotli.error as exc:
        raise PayloadDecodeError(f"br body does not decode: {exc}") from exc


def _looks_like_markup(body: bytes) -> bool:
    return body.lstrip()[:1] in (b"<",)
