"""A real S3 API on loopback for the tests: moto's server mode (PyPI `moto[server]`), a
stand-in for Amazon S3 that speaks its protocol (signed requests, ranged GETs, listings,
conditional PUTs), started and stopped by the tests."""

from __future__ import annotations

import boto3
from moto.server import ThreadedMotoServer


class S3Server:
    def __init__(self):
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self.client = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1")

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
        self.server.stop()
