"""The openai engine against a hostile OpenAI-compatible server: a small loopback server
(http.server) answers each request with the next scripted reply. No model is needed: what
is tested is what the engine does with replies no real server should send, and that every
request still ends as one Generation, every row as one status."""

from __future__ import annotations

import base64
import http.server
import json
import socket
import threading
import time
import urllib.parse

import pyarrow as pa
import pytest

from webinstruct.lib.llm import ChatRequest, EngineSpec, Sampling, create_engine
from webinstruct.lib.llm.openai_engine import MAX_REPLY_BYTES, MAX_WAIT_S, _retry_after, clamp_wait
from webinstruct.lib.llm.prompts import load_prompt
from webinstruct.lib.llm.tasks import run_batches
from webinstruct.lib.llm.tokenizer import load_tokenizer
from webinstruct.lib.llm.types import MALFORMED
from webinstruct.lib.qa.parse import Limits, parse_extraction
from webinstruct.lib.qa.tasks import ExtractTask

KEY_ENV = "WEBINSTRUCT_HOSTILE_TEST_KEY"
KEY = "sk-proj-Zq8Xv2Lm4Np6Rt0Wy3Ub5Hc7Jd9Kf1Gs2Ae4Bi6Co8D"  # 51 characters, like a real key
assert len(KEY) == 51
DEEP = b"[" * 100_000 + b"]" * 100_000


def send(handler, status: int, body: bytes, headers: dict | None = None, reason: str | None = None) -> None:
    handler.send_response(status, reason)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def reply(status: int, body: bytes | str = b"{}", headers: dict | None = None, reason: str | None = None):
    data = body.encode() if isinstance(body, str) else body
    return lambda h: send(h, status, data, headers, reason)


def completion(content, finish_reason="stop", usage=None) -> bytes:
    return json.dumps({"choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": finish_reason}],
                       "usage": usage if usage is not None else {"prompt_tokens": 10, "completion_tokens": 3}}).encode()


def drip(handler) -> None:
    """Headers promise 1000 bytes; one arrives every 0.2 s, each within the socket timeout."""
    handler.send_response(200)
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    try:
        for _ in range(100):
            handler.wfile.write(b" ")
            handler.wfile.flush()
            time.sleep(0.2)
    except OSError:  # the client gave up
        pass


class Hostile:
    """Answers POSTs with `script` steps in turn (then with `default`), counting requests."""

    def __init__(self):
        self.script, self.requests, self.default = [], 0, reply(200, completion('{"pairs": []}'))
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                server.requests += 1
                (server.script.pop(0) if server.script else server.default)(self)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    s = Hostile()
    yield s
    s.httpd.shutdown()


def engine_for(server: Hostile, **kw):
    spec = dict(kind="openai", model="m", base_url=server.url, timeout_s=2.0, max_retries=0, backoff_s=0.01,
                concurrency=1, api_key_env=KEY_ENV)
    spec.update(kw)
    return create_engine(EngineSpec(**spec))


def ask(server: Hostile, n: int = 1, **kw):
    engine = engine_for(server, **kw)
    try:
        return engine.generate([ChatRequest([{"role": "user", "content": "2+2?"}]) for _ in range(n)], Sampling(max_tokens=8))
    finally:
        engine.close()


def fragments(secret: str, size: int = 8) -> set[str]:
    return {secret[i : i + size].lower() for i in range(len(secret) - size + 1)}


def leaks(text: str, secret: str) -> bool:
    return any(f in text.lower() for f in fragments(secret))


BASIC = base64.b64encode(f"user:{KEY}".encode()).decode()
ECHOES = {
    "key at the cut": ("e" * 255 + KEY, KEY),  # the old code cut first and kept 45 of 51 characters
    "bearer header": (f"invalid header Authorization: Bearer {KEY}", KEY),
    "prefix only": (f"key {KEY[:20]}... rejected", KEY[:20]),
    "suffix only": (f"key ...{KEY[-12:]} rejected", KEY[-12:]),
    "upper case": (f"KEY {KEY.upper()} REJECTED", KEY),
    "in a json error": (json.dumps({"error": {"message": "invalid key", "key": KEY, "header": f"Bearer {KEY}"}}), KEY),
    "url encoded": (f"at /v1?key={urllib.parse.quote(KEY + '/')}", urllib.parse.quote(KEY)),
    "hex": (f"raw {KEY.encode().hex()}", KEY.encode().hex()),
    "basic auth": (f"Authorization: Basic {BASIC}", BASIC[8:-4]),  # the characters that come from the key
}


@pytest.mark.parametrize("body, secret", ECHOES.values(), ids=ECHOES.keys())
def test_an_echoed_key_is_redacted_whole_partly_and_encoded(server, body, secret):
    server.script = [reply(500, body)]
    [g] = ask(server)
    assert g.finish_reason == "error" and g.error.startswith("HTTP 500: ") and "[redacted]" in g.error
    assert not leaks(g.error, secret) and not leaks(g.error, KEY)


@pytest.mark.parametrize("status, phrase", [(401, "Unauthorized"), (403, "Forbidden")])
def test_credential_errors_keep_the_status_and_reason_only(server, status, phrase):
    server.script = [reply(status, json.dumps({"error": f"bad key {KEY}", "hint": "ask support"}), reason=f"Bad key {KEY}")]
    [g] = ask(server, max_retries=3)
    assert g.error == f"HTTP {status} {phrase} (after 1 attempts)" and server.requests == 1


def test_a_key_in_a_successful_reply_is_redacted_too(server):
    server.script = [reply(200, completion(f'{{"pairs": [], "note": "{KEY[5:30]}"}}'))]
    [g] = ask(server)
    assert g.error is None and "[redacted]" in g.text and not leaks(g.text, KEY)


def test_hostile_retry_after_values_neither_raise_nor_stall(server):
    server.script = [reply(503, headers={"Retry-After": "-5"}), reply(429, headers={"Retry-After": "nan"}),
                     reply(503, headers={"Retry-After": "soon"}), reply(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
                     reply(503, headers={"Retry-After": "1e-3"})]
    started = time.monotonic()
    [g] = ask(server, max_retries=5)
    assert g.error is None and server.requests == 6 and time.monotonic() - started < 5
    assert [_retry_after(v) for v in ("1e999", "Infinity", "-1", "nan", "x", "", "2")] == [MAX_WAIT_S, MAX_WAIT_S, 0.0, None, None, None, 2.0]
    assert (clamp_wait(float("inf")), clamp_wait(float("nan")), clamp_wait(-3.0)) == (MAX_WAIT_S, 0.0, 0.0)


CONTENTS = [  # (content, finish_reason, usage) as a server sent them -> (text, finish_reason, prompt, completion tokens)
    ((None, "stop", None), ("", "stop", 10, 3)),
    ((["{\"pairs\"", {"type": "text", "text": ": []}"}], "stop", None), ('{"pairs": []}', "stop", 10, 3)),
    (({"pairs": []}, "length", None), ('{"pairs": []}', "length", 10, 3)),
    ((42, {"why": 1}, {"prompt_tokens": "12", "completion_tokens": -3}), ("42", "", 0, 0)),
    ((True, "error", {"prompt_tokens": 1e300, "completion_tokens": 2.9}), ("true", "other", 2**62, 2)),
    (("{\"same\": tr\ud800", "content_filter", []), ("{\"same\": tr\ufffd", "content_filter", 0, 0)),
]


@pytest.mark.parametrize("sent, got", CONTENTS, ids=range(len(CONTENTS)))
def test_content_of_any_type_becomes_text(server, sent, got):
    server.script = [reply(200, completion(*sent))]
    [g] = ask(server)
    assert (g.text, g.finish_reason, g.prompt_tokens, g.completion_tokens) == got and g.error is None
    assert parse_extraction(g.text, g.finish_reason, g.error, Limits()).status in ("none", "parse_error", "truncated")


UNREADABLE = {
    "deep nesting": DEEP,
    "html page": b"<html><body>502 Bad Gateway</body></html>",
    "no choices": b'{"choices": []}',
    "message not an object": b'{"choices": [{"message": "hi"}]}',
    "a list": b"[1, 2]",
    "not utf-8": b"\xff\xfe\xfa garbage",
    "huge": b'{"choices": [' + b" " * (MAX_REPLY_BYTES + 10) + b"]}",
}


@pytest.mark.parametrize("body", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_an_unreadable_reply_is_asked_once_more_then_final(server, body):
    server.default = reply(200, body)  # the same bad reply every time, as at temperature 0
    [g] = ask(server, max_retries=4)
    assert g.finish_reason == MALFORMED and g.error.startswith("malformed reply: ") and server.requests == 2
    assert g.text == body[:65536].decode("utf-8", "replace")[:2000]  # the start of what came, as raw output
    parsed = parse_extraction(g.text, g.finish_reason, g.error, Limits())
    assert (parsed.status, parsed.error) == ("parse_error", g.error)  # final: reruns do not ask again


def test_a_dripping_server_cannot_hold_a_request(server):
    server.script = [drip]
    started = time.monotonic()
    [g] = ask(server, timeout_s=1.0)
    assert "timeout" in g.error and time.monotonic() - started < 4


def test_a_server_that_always_fails_is_asked_a_bounded_number_of_times(server):
    server.default = reply(503, "overloaded")
    [g] = ask(server, max_retries=3)
    assert g.finish_reason == "error" and "(after 4 attempts)" in g.error and server.requests == 4


def test_negative_max_retries_still_sends_once(server):
    [g] = ask(server, max_retries=-2)
    assert g.error is None and g.text == '{"pairs": []}' and server.requests == 1


def test_a_slice_of_hostile_replies_completes_with_a_row_per_reply(server, offline_model):
    """Every reply the server can send ends as rows Arrow can write: nothing raises."""
    bad = [reply(200, DEEP), reply(200, completion('{"pairs": ' + "[" * 50_000 + "]}")),
           reply(200, completion('{"pairs": [{"question": "Why \\ud800?", "answer": "42"}]}')),
           reply(200, completion(["{\"pairs\": []}"], {"x": 1}, {"prompt_tokens": "a"})), reply(400, f"bad {KEY}"),
           reply(200, completion('{"pairs": [{"question": "What is 6*7?", "answer": "42"}]}'))]
    server.default = lambda h: bad[(server.requests - 1) % len(bad)](h)
    tok = load_tokenizer(str(offline_model))
    task = ExtractTask(load_prompt("extract"), "m", tok, 2048, 256, 64, max_chunks=4, limits=Limits())
    works = [task.work({"doc_id": f"d{i}", "title": "t", "text": f"Q{i}: what? A: yes."}) for i in range(12)]
    engine = engine_for(server, max_retries=0)
    try:
        rows = [r for batch in run_batches(works, lambda reqs: engine.generate(reqs, Sampling(max_tokens=8)), task.rows, 10**9)
                for r in batch]
    finally:
        engine.close()
    assert {r["doc_id"] for r in rows} == {f"d{i}" for i in range(12)}
    assert {r["status"] for r in rows} == {"parse_error", "none", "ok", "engine_error"}
    assert pa.Table.from_pylist(rows).num_rows == len(rows)
    assert not any(r["error"] and leaks(r["error"], KEY) for r in rows)


def test_a_connection_dropped_mid_reply_is_retried_not_malformed(server):
    def dropped(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", "5000")
        handler.end_headers()
        handler.wfile.write(b'{"choi')
        handler.wfile.flush()
        handler.connection.shutdown(socket.SHUT_RDWR)

    server.script = [dropped]
    [g] = ask(server, max_retries=2)
    assert g.error is None and server.requests == 2
