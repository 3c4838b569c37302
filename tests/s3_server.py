"""A real S3 API on loopback for the tests: moto's server mode (PyPI `moto[server]`), a
stand-in for Amazon S3 that speaks its protocol (signed requests, ranged GETs, listings,
conditional PUTs), started and stopped by the tests.

It runs in its own process: moto's server is a Flask app, and Flask's context proxies
(`flask.current_app`, `flask.request`) raise on any attribute read outside a request. vLLM
scans every loaded module when its engine starts (to rebind kernels) and failed on them when
moto ran inside the test process."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import boto3
from botocore.exceptions import EndpointConnectionError

START_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3Server:
    def __init__(self):
        port = _free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.endpoint = f"http://127.0.0.1:{port}"
        self.client = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1")
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto's S3 server exited with {self.process.returncode} before it answered")
            try:
                self.client.list_buckets()
                return
            except EndpointConnectionError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto's S3 server did not answer on {self.endpoint} in {START_SECONDS} s")
                time.sleep(0.2)

    @property
    def options(self) -> dict:
        """lake.storage_options for this server (delta-rs's keys; the one S3 setting)."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_REGION": "us-east-1", "AWS_ALLOW_HTTP": "true"}

    def bucket(self, name: str) -> str:
        self.client.create_bucket(Bucket=name)
        return name

    def upload(self, bucket: str, key: str, path) -> None:
        self.client.upload_file(str(path), bucket, key)

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
