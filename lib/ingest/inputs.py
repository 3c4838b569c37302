"""Resolve what the user passed to ingest into a sorted list of archive paths.

Accepts files, directories (recursive), globs, s3:// and http(s):// URLs, and Common
Crawl `warc.paths.gz` listings whose relative entries are joined to a base URL. A seeded
sample keeps runs reproducible: the same seed and N pick the same archives.
"""

from __future__ import annotations

import fnmatch
import glob
import gzip
import io
import os
import random

from webinstruct.lib.ingest.stream import open_binary

REMOTE_PREFIXES = ("s3://", "s3a://", "gs://", "http://", "https://")


def is_listing(item: str) -> bool:
    name = item.rstrip("/").rsplit("/", 1)[-1]
    return name.endswith((".paths.gz", ".paths"))


def read_listing(item: str, base_url: str) -> list[str]:
    with open_binary(item) as fh:
        data = fh.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    out = []
    for line in io.StringIO(data.decode("utf-8")):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        out.append(entry if entry.startswith(REMOTE_PREFIXES) or entry.startswith("/") else base_url.rstrip("/") + "/" + entry)
    return out


def _excluded(name: str, exclude: list[str]) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in exclude)


def _walk_local(folder: str, exclude: list[str]) -> list[str]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(os.path.join(root, f) for f in files if not _excluded(f, exclude))
    return found


def _list_remote(pattern: str, exclude: list[str]) -> list[str]:
    """Directory or glob on an object store, listed through pyarrow's filesystems."""
    from pyarrow import fs

    scheme = pattern.split("://", 1)[0]
    wildcard = any(c in pattern for c in "*?[")
    prefix = pattern.split("*", 1)[0].split("?", 1)[0].split("[", 1)[0] if wildcard else pattern
    base = prefix if prefix.endswith("/") or not wildcard else prefix.rsplit("/", 1)[0]
    filesystem, inner = fs.FileSystem.from_uri(base.replace("s3a://", "s3://", 1))
    infos = filesystem.get_file_info(fs.FileSelector(inner, recursive=True))
    out = []
    for info in infos:
        if info.type != fs.FileType.File or _excluded(info.base_name, exclude):
            continue
        uri = f"{scheme}://{info.path}"
        if not wildcard or fnmatch.fnmatch(uri, pattern):
            out.append(uri)
    return out


def expand_inputs(
    items: list[str],
    exclude: list[str] | None = None,
    sample: int | None = None,
    seed: int = 42,
    base_url: str = "https://data.commoncrawl.org/",
) -> list[str]:
    exclude = list(exclude or [])
    paths: list[str] = []
    for item in items:
        if is_listing(item):
            paths.extend(read_listing(item, base_url))
        elif item.startswith(("http://", "https://")):
            paths.append(item)
        elif item.startswith(("s3://", "s3a://", "gs://")):
            is_file = not item.endswith("/") and not any(c in item for c in "*?[")
            paths.extend([item] if is_file else _list_remote(item, exclude))
        elif any(c in item for c in "*?["):
            paths.extend(os.path.abspath(p) for p in glob.glob(item, recursive=True) if os.path.isfile(p))
        elif os.path.isdir(item):
            paths.extend(os.path.abspath(p) for p in _walk_local(item, exclude))
        else:
            paths.append(os.path.abspath(item[len("file://"):] if item.startswith("file://") else item))
    paths = sorted(dict.fromkeys(paths))
    if sample is not None and sample < len(paths):
        paths = sorted(random.Random(seed).sample(paths, sample))
    return paths
