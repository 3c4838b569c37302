"""Any OpenAI-compatible chat endpoint (a fleet of `vllm serve` behind a balancer, a hosted API).

Requests go out on a bounded thread pool; each has a timeout and is retried with
exponential backoff (and the server's Retry-After, when sent) on 429, 5xx, timeouts and
dropped connections. Other 4xx replies are final: retrying a bad request only burns quota.
The API key is read from the environment variable the config names, at request time; it is
never stored, logged or put in an error message.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from webinstruct.lib.llm.spec import EngineSpec
from webinstruct.lib.llm.types import ChatRequest, Engine, Generation, Sampling

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


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

    def _headers(self) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.spec.api_key_env:
            key = os.environ.get(self.spec.api_key_env)
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
            "seed": sampling.seed,
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
        last = ""
        for attempt in range(self.spec.max_retries + 1):
            if attempt:
                with self._lock:
                    self._retried += 1
            wait = None
            try:
                req = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
                with urllib.request.urlopen(req, timeout=self.spec.timeout_s) as resp:
                    return _generation(json.loads(resp.read()))
            except urllib.error.HTTPError as exc:
                detail = exc.read()[:300].decode("utf-8", "replace")
                last = f"HTTP {exc.code}: {detail}"
                if exc.code not in RETRY_STATUS:
                    break
                wait = _retry_after(exc.headers.get("Retry-After"))
            except (TimeoutError, socket.timeout) as exc:
                last = f"timeout after {self.spec.timeout_s}s ({type(exc).__name__})"
            except urllib.error.URLError as exc:
                last = f"connection error: {exc.reason}"
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                last = f"malformed response: {type(exc).__name__}: {exc}"
                break
            except (OSError, http.client.HTTPException) as exc:  # dropped while reading the reply
                last = f"connection error: {type(exc).__name__}: {exc}"
            except Exception as exc:  # noqa: BLE001 - one request's failure is its result, never the batch's
                last = f"{type(exc).__name__}: {exc}"
                break
            if attempt < self.spec.max_retries:
                time.sleep(wait if wait is not None else self.spec.backoff_s * 2**attempt * (0.5 + random.random()))
        return Generation(finish_reason="error", error=self._redact(f"{last} (after {attempt + 1} attempts)"))

    def _redact(self, text: str) -> str:
        """Servers sometimes echo the credential in an error body; it never reaches a table."""
        key = os.environ.get(self.spec.api_key_env) if self.spec.api_key_env else None
        return text.replace(key, "[redacted]") if key else text

    def generate(self, requests: list[ChatRequest], sampling: Sampling) -> list[Generation]:
        return list(self.pool.map(lambda r: self._one(r, sampling), requests))

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def _retry_after(value: str | None) -> float | None:
    try:
        return min(float(value), 300.0) if value else None
    except ValueError:
        return None


def _generation(payload: dict) -> Generation:
    choice = payload["choices"][0]
    usage = payload.get("usage") or {}
    reason = choice.get("finish_reason") or ""
    return Generation(
        text=choice["message"].get("content") or "",
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        finish_reason="length" if reason == "length" else ("stop" if reason == "stop" else reason),
    )
