"""No credential survives a run: an API key the server echoes back and a presigned archive
URL pass through ingest and extract (real CLI processes, real Spark, a local HTTP server
standing in for S3 and for the LLM fleet), then every table and the whole console output
are scanned for any fragment of either secret."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import REPO, shared

KEY = "sk-live-" + "Zq7vT2mXw9LbK4pR8sNc3dYh6GjF1aEu5oWi0"  # 45 characters after the prefix
SIGNATURE = "c0ffee5ee7d4e1b2a3f4061728394a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5"
FRAGMENT = 8  # any 8 characters of a secret count as a leak


def _fragments(secret: str) -> set[str]:
    return {secret[i : i + FRAGMENT] for i in range(len(secret) - FRAGMENT + 1)}


class _Server:
    """Serves the archive only with its signature, and answers every chat request with an
    error that echoes the caller's Authorization header (401) or puts the key past the
    first 300 characters of a long body (400)."""

    def __init__(self, archive: Path):
        payload = archive.read_bytes()
        calls = {"n": 0}

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                ok = self.path.split("?", 1)[0].endswith(archive.name) and SIGNATURE in self.path
                self.send_response(200 if ok else 403)
                self.send_header("Content-Length", str(len(payload) if ok else 0))
                self.end_headers()
                if ok:
                    self.wfile.write(payload)

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                calls["n"] += 1
                auth = self.headers.get("Authorization", "")
                if calls["n"] % 2:
                    status, body = 401, json.dumps({"error": f"invalid key {auth}"})
                else:
                    status, body = 400, json.dumps({"error": "x" * 290 + f" you sent {auth[7:]} which is bad"})
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.calls = calls
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def _cli(*args: str, env: dict) -> str:
    proc = subprocess.run([sys.executable, "-m", "webinstruct.jobs", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    return out


def test_no_fragment_of_a_key_or_a_presigned_url_reaches_a_table_or_the_console(spark, offline_model, tmp_path):
    from webinstruct.jobs.core.config import load_config
    from webinstruct.jobs.core.lake import open_lake

    archive = shared("warc", "real", "dolma_wget_sample-0001.warc.gz")
    server = _Server(archive)
    lake = tmp_path / "lake"
    env = {**os.environ, "WEBINSTRUCT_TEST_KEY": KEY}
    common = ["--lake", str(lake), "--set", "spark.master=local[2]", "--set", "spark.shuffle_partitions=2"]
    url = (f"{server.url}/crawl-data/segments/{archive.name}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
           f"&X-Amz-Credential=AKIAEXAMPLE%2F20261201&X-Amz-Signature={SIGNATURE}")
    try:
        console = _cli("ingest", url, *common, env=env)
        console += _cli(
            "extract", *common,
            "--set", "extract.input=documents", "--set", "llm.engine=openai",
            "--set", f"llm.base_url={server.url}/v1", "--set", "llm.model=served-model",
            "--set", f"llm.tokenizer={offline_model}", "--set", "llm.api_key_env=WEBINSTRUCT_TEST_KEY",
            "--set", "llm.max_retries=0",
            env=env,
        )
    finally:
        server.close()
    assert server.calls["n"] > 0, f"the extract run never reached the fake LLM server:\n{console[-4000:]}"

    opened = open_lake(spark, load_config(lake=str(lake)))
    dumps = {}
    for name in opened.tables():
        rows = opened.read(name).toJSON().collect()
        dumps[name] = "\n".join(rows)
    assert {"documents", "warc_files", "runs", "qa_extracted"} <= dumps.keys()
    # the runs and rows the secrets passed through are there, in their safe form
    assert f"{server.url}/crawl-data/segments/{archive.name}" in dumps["warc_files"]
    assert "X-Amz" not in dumps["warc_files"] and "X-Amz" not in dumps["documents"] and "X-Amz" not in dumps["runs"]
    assert "HTTP 401" in dumps["qa_extracted"] and "HTTP 400" in dumps["qa_extracted"]

    secrets = _fragments(KEY) | _fragments(SIGNATURE)
    for where, text in [*dumps.items(), ("console", console)]:
        leaked = sorted(f for f in secrets if f in text)
        assert not leaked, f"{where} holds fragments of a secret: {leaked[:5]}"
