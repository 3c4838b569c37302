"""Common Crawl's columnar URL index, read without Spark's file systems: the listing of a
crawl's index files, and one index file read by column chunks over HTTP range requests
or an S3 API, skipping row groups whose domain statistics rule them out.

The index (`cc-index/table/cc-main/warc/crawl=<CRAWL>/subset=<SUBSET>/*.parquet`) is
sorted by SURT URL, so one registered domain's rows sit in few row groups: a domain
selection reads the footer and those row groups' needed columns only.
"""

from __future__ import annotations

import io
import urllib.error
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from webinstruct.lib import object_store
from webinstruct.lib.ingest.inputs import read_listing
from webinstruct.lib.ingest.range_reader import RangeReader, RangeReadError, probe_size
from webinstruct.lib.object_store import S3Settings

TABLE = "cc-index/table/cc-main/warc"
LISTING = "crawl-data/{crawl}/cc-index-table.paths.gz"

# ISO 639-1 -> 639-3 for the languages content_languages names most often (the index
# writes 639-3); a three-letter code passes through.
ISO_639_3 = {
    "en": "eng", "de": "deu", "fr": "fra", "es": "spa", "it": "ita", "pt": "por", "nl": "nld", "ru": "rus", "pl": "pol",
    "ja": "jpn", "zh": "zho", "ko": "kor", "ar": "ara", "tr": "tur", "sv": "swe", "da": "dan", "fi": "fin", "no": "nor",
    "nb": "nob", "cs": "ces", "sk": "slk", "hu": "hun", "ro": "ron", "el": "ell", "he": "heb", "hi": "hin", "id": "ind",
    "vi": "vie", "th": "tha", "uk": "ukr", "bg": "bul", "hr": "hrv", "sr": "srp", "sl": "slv", "lt": "lit", "lv": "lav",
    "et": "est", "fa": "fas", "bn": "ben", "ta": "tam", "ca": "cat", "eu": "eus", "gl": "glg", "ms": "msa",
}


class IndexReadError(ValueError):
    """The index cannot be listed or read as asked; the message names the file."""


def language_codes(languages: list[str]) -> list[str]:
    """The index's spelling (ISO 639-3) of each language asked for."""
    out = []
    for lang in languages:
        code = lang.strip().lower()
        out.append(ISO_639_3.get(code, code))
    return out


def index_files(root: str, crawls: list[str], subset: str = "warc", s3: S3Settings | None = None,
                max_files: int = 100_000, max_listing_bytes: int = 64 << 20) -> list[str]:
    """The index's parquet files of `crawls` (partition pruning by path): from each crawl's
    `cc-index-table.paths.gz` when `root` is http(s), else by listing the partition folders."""
    root = root.rstrip("/") + "/"
    found: list[str] = []
    for crawl in crawls:
        if root.startswith(("http://", "https://")):
            listing = root + LISTING.format(crawl=crawl)
            try:
                entries = read_listing(listing, root, max_bytes=max_listing_bytes)
            except urllib.error.HTTPError as exc:
                raise IndexReadError(f"no index listing for crawl {crawl} at {listing} (HTTP {exc.code}): is the crawl "
                                     "name right?") from None
            found += [e for e in entries if f"/crawl={crawl}/subset={subset}/" in e and e.endswith(".parquet")]
        else:
            found += _listed(f"{root}{TABLE}/crawl={crawl}/subset={subset}", s3)
        if len(found) > max_files:
            raise IndexReadError(f"more than {max_files} index files for {', '.join(crawls)} (select.max_index_files)")
    return sorted(found)


def _listed(folder: str, s3: S3Settings | None) -> list[str]:
    from pyarrow import fs  # noqa: PLC0415 - only listings need it

    if "://" in folder and not folder.startswith("file://"):
        filesystem, inner = object_store.filesystem(folder, s3)
        scheme = folder.split("://", 1)[0]
        prefix = f"{scheme}://"
    else:
        filesystem, inner, prefix = fs.LocalFileSystem(), folder.removeprefix("file://"), ""
    try:
        infos = filesystem.get_file_info(fs.FileSelector(inner, recursive=False))
    except FileNotFoundError:
        return []
    return [prefix + i.path for i in infos if i.type == fs.FileType.File and i.base_name.endswith(".parquet")]


class RangeFile(io.RawIOBase):
    """A remote file read by byte ranges (pyarrow's parquet reader seeks and reads)."""

    def __init__(self, location: str, reader: RangeReader, size: int):
        self.location, self.reader, self.size, self.pos = location, reader, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = {0: offset, 1: self.pos + offset, 2: self.size + offset}[whence]
        return self.pos

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self.size - self.pos
        n = max(0, min(n, self.size - self.pos))
        if n == 0:
            return b""
        data = self.reader.read(self.location, self.pos, n)
        self.pos += len(data)
        return data

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


def open_index_file(location: str, reader: RangeReader, s3: S3Settings | None = None):
    """A random-access handle on one index file."""
    if location.startswith(("http://", "https://")):
        size = probe_size(location, reader.options)
        if not size:
            raise RangeReadError("head", f"HEAD {location} gave no size", False)
        return RangeFile(location, reader, size)
    if "://" in location and not location.startswith("file://"):
        filesystem, inner = object_store.filesystem(location, s3)
        return filesystem.open_input_file(inner)
    return open(location.removeprefix("file://"), "rb")


def row_groups(metadata: pq.FileMetaData, column: str, values: set[str] | None) -> list[int]:
    """Row groups that may hold one of `values` in `column` (min/max statistics); every row
    group when there are no values to match or no statistics."""
    groups = list(range(metadata.num_row_groups))
    if not values:
        return groups
    names = [metadata.schema.column(i).name for i in range(metadata.num_columns)]
    if column not in names:
        return groups
    index = names.index(column)
    ordered = sorted(values)
    keep = []
    for g in groups:
        stats = metadata.row_group(g).column(index).statistics
        if stats is None or not stats.has_min_max:
            keep.append(g)
            continue
        low, high = stats.min, stats.max
        low = low.decode() if isinstance(low, bytes) else low
        high = high.decode() if isinstance(high, bytes) else high
        if any(low <= v <= high for v in ordered):
            keep.append(g)
    return keep


def read_index_file(handle, columns: list[str], domains: set[str] | None = None, batch_rows: int = 65536) -> Iterator[pa.RecordBatch]:
    """The `columns` of one index file, row groups pruned by `domains` (their registered
    domain), as Arrow batches with the index's own types. Rows are not filtered here: the
    caller applies the selection (the same filters whatever reads the index)."""
    parquet = pq.ParquetFile(handle, pre_buffer=True)
    wanted = [c for c in columns if c in parquet.schema_arrow.names]
    groups = row_groups(parquet.metadata, "url_host_registered_domain", domains)
    if not groups:
        return
    yield from parquet.iter_batches(batch_size=batch_rows, row_groups=groups, columns=wanted)
