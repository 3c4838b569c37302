"""Any OpenAI-compatible chat endpoint (a fleet of `vllm serve` behind a balancer, a hosted API).

Requests go out on a bounded thread pool; each has a timeout and is retried with
exponential backoff (and the server's Retry-After, when sent, clamped to 0-300 s) on 429,
5xx, timeouts and dropped connections. Other 4xx replies are final: retrying a bad request
only burns quota. Every retry loop is bounded, and each request ends as one Generation.

The server is not trusted:
* a 200 reply that is no chat completion (not JSON, nested past the recursion limit, no
  choices, larger than MAX_REPLY_BYTES) is asked once more, then ends with finish_reason
  `malformed`, which the parsers make a final `parse_error`: at temperature 0 the same
  request gets the same reply, so an error status that reruns retry would never settle;
* `content` of any type becomes text (None -> ""), token counts become bounded integers;
* the API key is read from the environment variable the config names, at request time,
  and is never stored or logged: replies to 401/403 keep the status and reason only, and
  every other text (error bodies, reasons, malformed replies, content) has the key, any
  fragment of it of MIN_FRAGMENT characters or more, and its common encodings (JSON,
  URL, hex, base64 as in `Basic` auth) replaced, before anything is cut to length.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import http
import http.client
import json
import math
import os
import random
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from webinstruct.lib.llm.spec import EngineSpec
from webinstruct.lib.llm.types import MALFORMED, ChatRequest, Engine, Generation, Sampling, clean_text

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
CREDENTIAL_STATUS = {401, 403}  # about the key itself: the body may quote it, so none is kept
MAX_WAIT_S = 300.0
MAX_BACKOFF_DOUBLINGS = 16
MALFORMED_RETRIES = 1  # a proxy's stray page may pass; a deterministic bad reply costs one more request
MAX_REPLY_BYTES = 8 * 2**20
READ_CHUNK = 64 * 1024
ERROR_BODY_BYTES = 64 * 1024  # of an error body read for the message
ERROR_BODY_CHARS = 300  # of a redacted error body kept
ERROR_BODY_WAIT_S = 10.0
RAW_CHARS = 2000  # of a redacted malformed reply kept as raw output
MAX_ERROR_CHARS = 2000
MAX_COUNT = 2**62  # token counts land in LongType columns
MIN_FRAGMENT = 8
REDACTED = "[redacted]"
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_REASON = re.compile(r"[a-z_]{1,32}")
_OUR_REASONS = {"error", MALFORMED}


class MalformedReply(Exception):
    """A 200 reply that is not a readable chat completion; `body` is what came."""

    def __init__(self, why: str, body: bytes):
        super().__init__(why)
        self.body = body


class OpenAIEngine(Engine):
    def __init__(self, spec: EngineSpec):
        if not spec.base_url:
            raise ValueError("llm.base_url is required for the openai engine (e.g. http://host:8000/v1)")
        self.spec = spec
        self.model = spec.model
        self.url = spec.base_url.rstrip("/") + "/chat/completions"
        self.pool = ThreadPoolExecutor(max_workers=max(1, spec.concurrency), thread_name_prefix="openai")
        self._lock = threading.Lock()
        self._retried = 0

    @property
    def retries(self) -> int:
        with self._lock:
            return self._retried

    def _key(self) -> str | None:
        return os.environ.get(self.spec.api_key_env) if self.spec.api_key_env else None

    def _headers(self) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.spec.api_key_env:
            key = self._key()
            if not key:
                raise RuntimeError(f"environment variable {self.spec.api_key_env} (llm.api_key_env) is not set")
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _body(self, request: ChatRequest, sampling: Sampling) -> bytes:
        body = {
            "model": self.spec.model,
            "messages": request.messages,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
            "seed": sampling.seed if request.seed is None else request.seed,
        }
        if request.json_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "reply", "schema": request.json_schema, "strict": True},
            }
        return json.dumps(body).encode()

    def _one(self, request: ChatRequest, sampling: Sampling) -> Generation:
        try:
            data, headers = self._body(request, sampling), self._headers()
        except RuntimeError as exc:
            return Generation(finish_reason="error", error=str(exc))
        redactor = Redactor(self._key())
        return redactor.generation(self._attempts(data, headers, redactor))

    def _attempts(self, data: bytes, headers: dict, redactor: Redactor) -> Generation:
        """Send until a reply is read or the (bounded) retries are spent; never raises."""
        last, malformed, attempts = "", 0, max(0, self.spec.max_retries) + 1
        for attempt in range(attempts):
            if attempt:
                with self._lock:
                    self._retried += 1
            wait = None
            try:
                return self._post(data, headers)
            except MalformedReply as exc:
                malformed += 1
                if malformed > MALFORMED_RETRIES or attempt + 1 == attempts:
                    return _malformed(exc, redactor)
                last = f"malformed reply: {exc}"
            except urllib.error.HTTPError as exc:
                last = _http_error(exc, redactor)
                if exc.code not in RETRY_STATUS:
                    break
                wait = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
            except (TimeoutError, socket.timeout) as exc:
                last = f"timeout after {self.spec.timeout_s}s ({type(exc).__name__})"
            except urllib.error.URLError as exc:
                last = f"connection error: {exc.reason}"
            except (OSError, http.client.HTTPException) as exc:  # dropped while reading the reply
                last = f"connection error: {type(exc).__name__}: {exc}"
            except Exception as exc:  # noqa: BLE001 - one request's failure is its result, never the batch's
                last = f"{type(exc).__name__}: {exc}"
                break
            if attempt + 1 < attempts:
                time.sleep(clamp_wait(wait if wait is not None else self._backoff(attempt)))
        return Generation(finish_reason="error", error=redactor.cut(f"{last} (after {attempt + 1} attempts)", MAX_ERROR_CHARS))

    def _backoff(self, attempt: int) -> float:
        return self.spec.backoff_s * 2 ** min(attempt, MAX_BACKOFF_DOUBLINGS) * (0.5 + random.random())

    def _post(self, data: bytes, headers: dict) -> Generation:
        req = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
        with urllib.request.urlopen(req, timeout=self.spec.timeout_s) as resp:
            body = _read_reply(resp, time.monotonic() + self.spec.timeout_s)
        return _generation(body)

    def generate(self, requests: list[ChatRequest], sampling: Sampling) -> list[Generation]:
        return list(self.pool.map(lambda r: self._one(r, sampling), requests))

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


class Redactor:
    """Removes a secret from text a server sent back: the whole key, any fragment of at
    least MIN_FRAGMENT characters (a body cut mid-key still leaks most of it), and the key
    as JSON, URL, hex or base64 would spell it, matched without regard to ASCII case."""

    def __init__(self, secret: str | None):
        self.size = min(MIN_FRAGMENT, len(secret)) if secret else 0
        forms = secret_forms(secret) if secret else []
        self.grams = {f.translate(_ASCII_LOWER)[i : i + self.size] for f in forms for i in range(len(f) - self.size + 1)}

    def __call__(self, text: str) -> str:
        if not self.grams or len(text) < self.size:
            return text
        low, n = text.translate(_ASCII_LOWER), self.size
        spans: list[list[int]] = []
        for i in range(len(text) - n + 1):
            if low[i : i + n] in self.grams:
                if spans and i <= spans[-1][1]:
                    spans[-1][1] = i + n
                else:
                    spans.append([i, i + n])
        if not spans:
            return text
        out, pos = [], 0
        for start, end in spans:
            out += [text[pos:start], REDACTED]
            pos = end
        return "".join(out) + text[pos:]

    def cut(self, text: str, chars: int) -> str:
        """Redacted first, then cut: a cut never leaves part of a key unredacted."""
        return clean_text(self(text))[:chars]

    def generation(self, gen: Generation) -> Generation:
        gen.text = self(gen.text)
        gen.error = self.cut(gen.error, MAX_ERROR_CHARS) if gen.error else gen.error
        return gen


def secret_forms(secret: str) -> list[str]:
    """How a server may echo the key: as is, JSON-escaped, URL-encoded, hex, and base64 at
    each of the three byte alignments it can have inside a longer encoded string (only the
    characters that depend on the key alone), standard and URL-safe."""
    raw = secret.encode()
    forms = {secret, json.dumps(secret)[1:-1], urllib.parse.quote(secret, safe=""), raw.hex()}
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).decode()
        inner = encoded[4 if shift else 0 : len(encoded) - 4]
        forms |= {inner, inner.replace("+", "-").replace("/", "_")}
    return sorted(f for f in forms if f)


def clamp_wait(seconds: float) -> float:
    """A wait time.sleep accepts and a server cannot stretch: 0 to MAX_WAIT_S (NaN -> 0)."""
    return 0.0 if math.isnan(seconds) else min(max(seconds, 0.0), MAX_WAIT_S)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), clamped; None when
    absent or unreadable (the backoff applies then)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = _seconds_until(value)
    return None if seconds is None or math.isnan(seconds) else clamp_wait(seconds)


def _seconds_until(http_date: str) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return (when - dt.datetime.now(dt.timezone.utc)).total_seconds()


def _http_error(exc: urllib.error.HTTPError, redactor: Redactor) -> str:
    """`HTTP <code> <reason>`, plus the start of the body (redacted, then cut) except for
    401/403, whose body and server-sent reason are never kept."""
    phrase = _phrase(exc.code)
    if exc.code in CREDENTIAL_STATUS:
        return f"HTTP {exc.code} {phrase}".rstrip()
    try:
        body, _ = _read_capped(exc, ERROR_BODY_BYTES, time.monotonic() + ERROR_BODY_WAIT_S)
    except (OSError, http.client.HTTPException, ValueError):
        body = b""
    return f"HTTP {exc.code}: {redactor.cut(body.decode('utf-8', 'replace'), ERROR_BODY_CHARS)}"


def _phrase(code: int) -> str:
    try:
        return http.HTTPStatus(code).phrase
    except ValueError:
        return ""


def _read_capped(resp, limit: int, deadline: float) -> tuple[bytes, bool]:
    """(up to `limit` bytes of the body, whether there was more), read a chunk at a time so
    that a server dripping one byte per socket timeout cannot hold the request past
    `deadline` (TimeoutError)."""
    chunks, size = [], 0
    while size <= limit and (chunk := resp.read1(READ_CHUNK)):
        size += len(chunk)
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise TimeoutError("reply still arriving at the deadline")
    return b"".join(chunks)[:limit], size > limit


def _read_reply(resp, deadline: float) -> bytes:
    """The body of a 200 reply: at most MAX_REPLY_BYTES, by `deadline`; one shorter than
    its Content-Length is a dropped connection (retried), not a malformed reply."""
    body, more = _read_capped(resp, MAX_REPLY_BYTES, deadline)
    if more:
        raise MalformedReply(f"reply larger than {MAX_REPLY_BYTES} bytes", body[:ERROR_BODY_BYTES])
    if resp.length:  # bytes the headers promised that never came
        raise http.client.IncompleteRead(body, resp.length)
    return body


def _malformed(exc: MalformedReply, redactor: Redactor) -> Generation:
    raw = exc.body[:ERROR_BODY_BYTES].decode("utf-8", "replace")
    return Generation(text=redactor.cut(raw, RAW_CHARS), finish_reason=MALFORMED,
                      error=redactor.cut(f"malformed reply: {exc}", MAX_ERROR_CHARS))


def _generation(body: bytes) -> Generation:
    """The completion in a 200 reply; MalformedReply for anything else."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise MalformedReply(f"not JSON ({type(exc).__name__})", body) from None
    choices = payload.get("choices") if isinstance(payload, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise MalformedReply("no choices[0] object", body)
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise MalformedReply("choices[0].message is not an object", body)
    usage = payload.get("usage") if isinstance(payload.get("usage"), dict) else {}
    return Generation(
        text=_content(message.get("content"), body),
        prompt_tokens=_count(usage.get("prompt_tokens")),
        completion_tokens=_count(usage.get("completion_tokens")),
        finish_reason=_finish_reason(choices[0].get("finish_reason")),
    )


def _content(value, body: bytes) -> str:
    """Reply text from whatever `content` holds: None -> "", a string, the texts of a list
    of content parts, other JSON values as JSON text (a server that returns the object
    itself instead of its text)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list) and all(isinstance(p, str) or (isinstance(p, dict) and isinstance(p.get("text"), str)) for p in value):
        return clean_text("".join(p if isinstance(p, str) else p["text"] for p in value))
    try:
        return clean_text(json.dumps(value))
    except (ValueError, RecursionError) as exc:
        raise MalformedReply(f"content not readable ({type(exc).__name__})", body) from None


def _count(value) -> int:
    """A token count as the table can hold it: a non-negative integer, else 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return 0
    return min(max(int(value), 0), MAX_COUNT)


def _finish_reason(value) -> str:
    """stop | length, other plain reasons as sent; anything else (or one of our own words:
    a server cannot claim `error` or `malformed`) is `other`."""
    if not isinstance(value, str) or not value:
        return ""
    if value in ("stop", "eos"):
        return "stop"
    return value if _REASON.fullmatch(value) and value not in _OUR_REASONS else "other"
