"""Resolve what the user passed to ingest into a sorted list of archive paths.

Accepts files, directories (recursive), globs, s3:// and http(s):// URLs, and Common
Crawl `warc.paths.gz` listings whose relative entries are joined to a base URL. A seeded
sample keeps runs reproducible: the same seed and N pick the same archives.

A listing is data from elsewhere, so it is not trusted: its entries must be paths relative
to the crawl base (no absolute path, no URL, no `..` segment, no empty or control-character
line). Any refused entry fails the whole listing with a ListingError that counts them and
names the first: ingesting a silent subset would hide a wrong or tampered listing and make
the run irreproducible. `allow_absolute=True` accepts absolute paths and s3/gs/http(s)/file
URLs as they are, for a listing you wrote yourself. A listing is read with a byte cap
(compressed and decompressed), so a huge file or a gzip bomb fails fast instead of filling
the driver's memory.
"""

from __future__ import annotations

import collections
import fnmatch
import glob
import gzip
import io
import os
import random
import re
import unicodedata
import zlib
from urllib.parse import unquote

from pyarrow import fs

from webinstruct.lib import object_store
from webinstruct.lib.ingest.stream import GZIP_MAGIC, open_binary
from webinstruct.lib.object_store import S3Settings
from webinstruct.lib.urls import safe_location

REMOTE_PREFIXES = ("s3://", "s3a://", "gs://", "http://", "https://")
DEFAULT_MAX_LISTING_BYTES = 64 << 20  # Common Crawl's warc.paths is ~10 MiB decompressed
_READ_CHUNK = 1 << 16
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")  # also catches drive letters (C:)
_REFUSED_CATEGORIES = ("Cc", "Zl", "Zp")  # control characters, line and paragraph separators


class ListingError(ValueError):
    """A warc.paths listing that is too large, unreadable, or holds entries we refuse."""


def is_listing(item: str) -> bool:
    """By file name; the query of a presigned listing URL is not part of the name."""
    name = safe_location(item).rstrip("/").rsplit("/", 1)[-1]
    return name.endswith((".paths.gz", ".paths"))


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 and n % (1 << 20) == 0 else f"{n:,} bytes"


def _over_cap(where: str, cap: int, side: str) -> ListingError:
    return ListingError(
        f"warc listing {where} is over the {_size(cap)} cap{side} (max_listing_bytes={cap}); "
        "raise max_listing_bytes if the listing is genuine"
    )


def _read_capped(fh, cap: int, where: str) -> bytes:
    """At most cap + 1 bytes are read: one more than the cap proves the listing too large."""
    parts, size = [], 0
    while size <= cap:
        chunk = fh.read(min(_READ_CHUNK, cap + 1 - size))
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    if size > cap:
        raise _over_cap(where, cap, "")
    return b"".join(parts)


def _gunzip_capped(data: bytes, cap: int, where: str) -> bytes:
    """GzipFile.read(n) inflates in bounded steps, so a bomb stops at cap + 1 bytes."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
            out = gz.read(cap + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise ListingError(f"warc listing {where} is not valid gzip: {exc}") from exc
    if len(out) > cap:
        raise _over_cap(where, cap, " once decompressed")
    return out


def _listing_text(item: str, where: str, cap: int, s3: S3Settings | None = None) -> str:
    with open_binary(item, s3=s3) as fh:
        data = _read_capped(fh, cap, where)
    if data.startswith(GZIP_MAGIC):
        data = _gunzip_capped(data, cap, where)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ListingError(f"warc listing {where} is not UTF-8 text (bad byte at offset {exc.start})") from exc


def _entry_problem(entry: str, allow_absolute: bool) -> str | None:
    """Why a listing entry is refused, or None. `..` is checked percent-decoded, with both
    slashes, because the server or object store behind the base may decode either."""
    if not entry:
        return "empty line"
    if any(unicodedata.category(c) in _REFUSED_CATEGORIES for c in entry):
        return "control character"
    if _SCHEME.match(entry):
        if not allow_absolute:
            return "URL"
        return None if entry.startswith((*REMOTE_PREFIXES, "file://")) else "unsupported scheme"
    if entry.startswith("\\"):
        return "Windows path"
    if entry.startswith("/"):
        return None if allow_absolute else "absolute path"
    if ".." in re.split(r"[/\\]", unquote(entry)):
        return "'..' segment"
    return None


def _resolve(entry: str, base_url: str) -> str:
    if entry.startswith("file://"):
        return entry[len("file://"):]
    if entry.startswith(("/", *REMOTE_PREFIXES)):
        return entry
    return base_url.rstrip("/") + "/" + entry


def _refusal(where: str, base_url: str, refused: list[tuple[int, str, str]], total: int) -> ListingError:
    line, entry, reason = refused[0]
    counts = ", ".join(f"{why}: {n}" for why, n in collections.Counter(r for _, _, r in refused).most_common())
    shown = safe_location(entry)
    shown = shown if len(shown) <= 120 else shown[:117] + "..."
    return ListingError(
        f"warc listing {where}: {len(refused)} of {total} entries refused ({counts}); "
        f"first at line {line}: {shown!r} ({reason}). Entries must be paths relative to the crawl base "
        f"{safe_location(base_url)}; pass allow_absolute=True to accept absolute paths and URLs from a listing you trust"
    )


def read_listing(
    item: str,
    base_url: str,
    allow_absolute: bool = False,
    max_bytes: int = DEFAULT_MAX_LISTING_BYTES,
    s3: S3Settings | None = None,
) -> list[str]:
    """Archive paths named by a listing, relative entries joined to base_url (module docstring
    has the rules). Lines starting with `#` are comments; a final newline is not an entry."""
    where = safe_location(item)
    lines = _listing_text(item, where, max_bytes, s3).split("\n")
    if lines[-1].strip(" \t\r") == "":
        lines.pop()
    out: list[str] = []
    refused: list[tuple[int, str, str]] = []
    total = 0
    for number, line in enumerate(lines, 1):
        entry = line.strip(" \t\r")
        if entry.startswith("#"):
            continue
        total += 1
        problem = _entry_problem(entry, allow_absolute)
        if problem:
            refused.append((number, entry, problem))
        else:
            out.append(_resolve(entry, base_url))
    if refused:
        raise _refusal(where, base_url, refused, total)
    return out


def _excluded(name: str, exclude: list[str]) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in exclude)


def _walk_local(folder: str, exclude: list[str]) -> list[str]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(os.path.join(root, f) for f in files if not _excluded(f, exclude))
    return found


def _list_remote(pattern: str, exclude: list[str], s3: S3Settings | None = None) -> list[str]:
    """Directory or glob on an object store, listed through pyarrow's filesystems."""
    scheme = pattern.split("://", 1)[0]
    wildcard = any(c in pattern for c in "*?[")
    prefix = pattern.split("*", 1)[0].split("?", 1)[0].split("[", 1)[0] if wildcard else pattern
    base = prefix if prefix.endswith("/") or not wildcard else prefix.rsplit("/", 1)[0]
    filesystem, inner = object_store.filesystem(base, s3)
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
    *,
    allow_absolute: bool = False,
    max_listing_bytes: int = DEFAULT_MAX_LISTING_BYTES,
    s3: S3Settings | None = None,
) -> list[str]:
    """Sorted, de-duplicated archive paths; listings are checked as read_listing says.
    `s3`: the endpoint and region of s3:// locations (lib.object_store)."""
    exclude = list(exclude or [])
    paths: list[str] = []
    for item in items:
        if is_listing(item):
            paths.extend(read_listing(item, base_url, allow_absolute, max_listing_bytes, s3))
        elif item.startswith(("http://", "https://")):
            paths.append(item)
        elif item.startswith(("s3://", "s3a://", "gs://")):
            is_file = not item.endswith("/") and not any(c in item for c in "*?[")
            paths.extend([item] if is_file else _list_remote(item, exclude, s3))
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
