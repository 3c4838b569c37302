"""Byte ranges of archives on HTTP servers, S3 APIs or local folders, read politely and
with bounded waiting.

Each read asks for exactly [start, start + length): an HTTP `Range` request, checked to
come back as 206 with the `Content-Range` asked for; an S3 ranged GET (pyarrow's
`read_at`); or a seek in a local file. A busy server (503, 429, S3 SlowDown), a timeout, a
short body or a wrong `Content-Range` is tried again after an exponential backoff with
jitter (capped; a server's Retry-After is honoured up to the cap); a missing file, a
refused range or a server that ignores `Range` fails at once. Every wait is bounded: a
request's whole body must arrive within `timeout_s`, however slowly the server drips.
What happened is counted (`counters`), so a stage can say how many retries a crawl cost.

`read_many` keeps at most `concurrency` requests in flight and yields results as they
arrive, so memory stays within concurrency x the largest span.
"""

from __future__ import annotations

import os
import random
import re
import socket
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from webinstruct.lib import object_store
from webinstruct.lib.object_store import S3Settings

RETRY_STATUSES = {429, 500, 502, 503, 504}
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$")
_CHUNK = 1 << 16


@dataclass(frozen=True)
class ReadOptions:
    timeout_s: float = 60.0  # per request, for the whole body
    attempts: int = 5  # tries per range, the first included
    backoff_s: float = 1.0  # first wait; doubles per retry, with jitter
    max_backoff_s: float = 30.0
    user_agent: str = "webinstruct-fetch (+https://github.com/webinstruct)"
    s3: S3Settings = S3Settings()  # endpoint and region (no keys: executors use their environment's)


class RangeReadError(Exception):
    """A range that could not be read; `reason` is a short code, `retryable` says whether
    another try may succeed."""

    def __init__(self, reason: str, message: str, retryable: bool, retry_after: float | None = None):
        super().__init__(message)
        self.reason, self.retryable, self.retry_after = reason, retryable, retry_after


class RangeReader:
    def __init__(self, options: ReadOptions, counters: Counter | None = None,
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None):
        self.options = options
        self.counters = counters if counters is not None else Counter()
        self._sleep = sleep
        self._rng = rng or random.Random()

    def read(self, location: str, start: int, length: int) -> bytes:
        """Exactly `length` bytes of `location` from `start`, or RangeReadError."""
        o = self.options
        for attempt in range(1, max(1, o.attempts) + 1):
            self.counters["requests"] += 1
            try:
                data = self._once(location, start, length)
            except RangeReadError as exc:
                self.counters[f"error_{exc.reason}"] += 1
                if not exc.retryable or attempt >= o.attempts:
                    raise
                self.counters["retries"] += 1
                self._sleep(self._wait(attempt, exc.retry_after))
                continue
            self.counters["bytes"] += len(data)
            return data
        raise AssertionError("unreachable")

    def _wait(self, attempt: int, retry_after: float | None) -> float:
        o = self.options
        base = min(o.max_backoff_s, o.backoff_s * 2 ** (attempt - 1))
        wait_s = base * (0.5 + self._rng.random())  # jitter: clients that failed together do not retry together
        if retry_after is not None:
            wait_s = max(wait_s, retry_after)
        return min(wait_s, o.max_backoff_s)

    def _once(self, location: str, start: int, length: int) -> bytes:
        if location.startswith(("http://", "https://")):
            return self._http(location, start, length)
        if location.startswith(("s3://", "s3a://", "gs://")):
            return self._object_store(location, start, length)
        return _local(location, start, length)

    def _http(self, url: str, start: int, length: int) -> bytes:
        o = self.options
        request = urllib.request.Request(url, headers={"Range": f"bytes={start}-{start + length - 1}", "User-Agent": o.user_agent})
        deadline = time.monotonic() + o.timeout_s
        try:
            response = urllib.request.urlopen(request, timeout=o.timeout_s)  # noqa: S310 - the configured mirror
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code in RETRY_STATUSES:
                raise RangeReadError(f"http_{exc.code}", f"HTTP {exc.code} for bytes {start}-{start + length - 1}", True,
                                     _retry_after(exc.headers.get("Retry-After"))) from None
            raise RangeReadError(f"http_{exc.code}", f"HTTP {exc.code} for bytes {start}-{start + length - 1}", False) from None
        except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError) as exc:
            raise RangeReadError("timeout" if _is_timeout(exc) else "connection", f"{type(exc).__name__}: {exc}", True) from None
        with response:
            if response.status != 206:
                raise RangeReadError("range_ignored", f"HTTP {response.status} instead of 206: the server ignored Range "
                                     "(a whole file is never downloaded by fetch)", False)
            found = _CONTENT_RANGE.match(response.headers.get("Content-Range") or "")
            if not found or int(found.group(1)) != start or int(found.group(2)) != start + length - 1:
                raise RangeReadError("bad_content_range", f"Content-Range {response.headers.get('Content-Range')!r} does "
                                     f"not match bytes {start}-{start + length - 1}", True)
            return _read_body(response, length, deadline)

    def _object_store(self, location: str, start: int, length: int) -> bytes:
        try:
            filesystem, path = object_store.filesystem(location, self.options.s3)
            with filesystem.open_input_file(path) as handle:
                data = handle.read_at(length, start)
        except OSError as exc:
            text = str(exc)
            if "SlowDown" in text or "SLOW_DOWN" in text or "503" in text or "Throttl" in text:
                raise RangeReadError("slowdown", text[:300], True) from None
            if "NoSuchKey" in text or "Path does not exist" in text or "404" in text or "NoSuchBucket" in text:
                raise RangeReadError("not_found", text[:300], False) from None
            raise RangeReadError("object_store", text[:300], True) from None
        if len(data) < length:
            raise RangeReadError("short_read", f"{len(data)} of {length} bytes at {start}", True)
        return data


def _local(path: str, start: int, length: int) -> bytes:
    path = path[len("file://"):] if path.startswith("file://") else path
    try:
        with open(path, "rb") as handle:
            handle.seek(start)
            data = handle.read(length)
    except FileNotFoundError as exc:
        raise RangeReadError("not_found", str(exc), False) from None
    except OSError as exc:
        raise RangeReadError("io", str(exc), True) from None
    if len(data) < length:
        raise RangeReadError("short_read", f"{len(data)} of {length} bytes at {start} (file ends first)", False)
    return data


def probe_size(location: str, options: ReadOptions) -> int | None:
    """A file's size without reading it (HTTP HEAD, an object's or file's metadata); None
    when it cannot be told."""
    try:
        if location.startswith(("http://", "https://")):
            request = urllib.request.Request(location, method="HEAD", headers={"User-Agent": options.user_agent})
            with urllib.request.urlopen(request, timeout=options.timeout_s) as response:  # noqa: S310 - the configured mirror
                value = response.headers.get("Content-Length")
                return int(value) if value and value.isdigit() else None
        if location.startswith(("s3://", "s3a://", "gs://")):
            filesystem, path = object_store.filesystem(location, options.s3)
            info = filesystem.get_file_info(path)
            return info.size if info.size is not None and info.size >= 0 else None
        return os.path.getsize(location.removeprefix("file://"))
    except (OSError, ValueError, urllib.error.URLError):
        return None


def _read_body(response, length: int, deadline: float) -> bytes:
    parts, size = [], 0
    while size < length:
        if time.monotonic() > deadline:
            raise RangeReadError("timeout", f"body not complete within the request timeout ({size} of {length} bytes)", True)
        try:
            chunk = response.read(min(_CHUNK, length - size))
        except (socket.timeout, TimeoutError, ConnectionError, OSError) as exc:
            raise RangeReadError("timeout" if _is_timeout(exc) else "connection", f"{type(exc).__name__}: {exc}", True) from None
        if not chunk:
            raise RangeReadError("short_read", f"{size} of {length} bytes, then the body ended", True)
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


def _is_timeout(exc: BaseException) -> bool:
    reason = getattr(exc, "reason", exc)
    return isinstance(reason, (socket.timeout, TimeoutError)) or "timed out" in str(exc)


def _retry_after(value: str | None) -> float | None:
    if value and value.strip().isdigit():
        return float(value.strip())
    return None


def read_many(reader: RangeReader, requests: Iterable, key: Callable, concurrency: int) -> Iterator[tuple[object, bytes | None, RangeReadError | None]]:
    """(request, data, None) or (request, None, error) for each request, as they complete,
    with at most `concurrency` in flight. `key(request)` gives (location, start, length)."""
    pending = iter(requests)
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="fetch") as pool:
        running: dict[Future, object] = {}

        def submit_next() -> bool:
            for request in pending:
                running[pool.submit(reader.read, *key(request))] = request
                return True
            return False

        for _ in range(max(1, concurrency)):
            if not submit_next():
                break
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                request = running.pop(future)
                error = future.exception()
                if error is not None and not isinstance(error, RangeReadError):
                    error = RangeReadError("unexpected", f"{type(error).__name__}: {error}", False)
                yield (request, None, error) if error is not None else (request, future.result(), None)
                submit_next()

