import gzip
import zlib

import brotli
import pytest

from webinstruct.lib.ingest.http_payload import PayloadDecodeError, decode_body, parse_http_response, parse_status

HTML = b"<html><head><title>t</title></head><body><p>Hello world</p></body></html>"


def block(status_line: bytes, headers: list[bytes], body: bytes) -> bytes:
    return status_line + b"\r\n" + b"\r\n".join(headers) + b"\r\n\r\n" + body


@pytest.mark.parametrize(
    "line, expected",
    [
        (b"HTTP/1.1 200 OK", 200),
        (b"HTTP/1.1 HTTP/1.1 200 OK", 200),  # the SERP archive's doubled protocol token
        (b"HTTP/1.0 404 Not Found", 404),
        (b"HTTP/2 301", 301),
        (b"HTTP/1.1 OK", None),
    ],
)
def test_status_is_first_three_digit_number(line, expected):
    assert parse_status(line) == expected


def test_headers_lowercased_and_body_split_on_lf_only_blocks():
    resp = parse_http_response(b"HTTP/1.1 200 OK\nContent-Type: text/html; charset=EUC-JP\n\n" + HTML)
    assert resp.status == 200
    assert resp.is_html and resp.charset == "EUC-JP"
    assert resp.body == HTML


def test_chunked_body_is_dechunked():
    chunked = b"10\r\n" + HTML[:16] + b"\r\n" + hex(len(HTML) - 16)[2:].encode() + b"\r\n" + HTML[16:] + b"\r\n0\r\n\r\n"
    resp = parse_http_response(block(b"HTTP/1.1 200 OK", [b"Content-Type: text/html", b"Transfer-Encoding: chunked"], chunked))
    assert decode_body(resp, 1 << 20) == HTML


def test_false_chunked_and_gzip_claims_keep_the_plain_body():
    # Stored already decoded, original headers kept: the body must survive untouched.
    resp = parse_http_response(
        block(b"HTTP/1.1 HTTP/1.1 200 OK", [b"Content-Type: text/html", b"Transfer-Encoding: chunked", b"Content-Encoding: gzip"], HTML)
    )
    assert decode_body(resp, 1 << 20) == HTML


@pytest.mark.parametrize(
    "coding, encode",
    [
        (b"gzip", gzip.compress),
        (b"deflate", zlib.compress),
        (b"deflate", lambda d: zlib.compress(d)[2:-4]),  # raw deflate, as some servers send
        (b"br", brotli.compress),
    ],
)
def test_real_content_encodings_decode(coding, encode):
    resp = parse_http_response(block(b"HTTP/1.1 200 OK", [b"Content-Type: text/html", b"Content-Encoding: " + coding], encode(HTML)))
    assert decode_body(resp, 1 << 20) == HTML


def test_broken_gzip_and_bombs_raise():
    broken = b"\x1f\x8b\x08\x00" + b"\x00" * 30
    resp = parse_http_response(block(b"HTTP/1.1 200 OK", [b"Content-Encoding: gzip"], broken))
    with pytest.raises(PayloadDecodeError):
        decode_body(resp, 1 << 20)
    bomb = gzip.compress(b"<" + b"a" * (2 << 20))
    resp = parse_http_response(block(b"HTTP/1.1 200 OK", [b"Content-Encoding: gzip"], bomb))
    with pytest.raises(PayloadDecodeError, match="expands beyond"):
        decode_body(resp, 1 << 20)
