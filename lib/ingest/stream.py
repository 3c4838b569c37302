"""Open archive files anywhere (local, s3, http) as streams, and undo their compression.

We decompress gzip ourselves instead of leaving it to the WARC parser because the parsers
silently accept a truncated last gzip member; a truncated archive must be reported as
`partial`, not as `ok`. Doing it here also lets warcio read whole-file-gzip archives and
lets us map a record's uncompressed position back to the gzip member that holds it (the
offset Common Crawl's index uses for range requests).
"""

from __future__ import annotations

import bisect
import io
import urllib.request
import zlib
from typing import BinaryIO

from webinstruct.lib import object_store
from webinstruct.lib.object_store import S3Settings

GZIP_MAGIC = b"\x1f\x8b"
LZ4_MAGIC = b"\x04\x22\x4d\x18"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

READ_SIZE = 1 << 16


class TruncatedArchive(EOFError):
    """The compressed stream ended inside a gzip member."""


class CorruptArchive(IOError):
    """The compressed stream cannot be decompressed."""


class ArchiveTooLarge(CorruptArchive):
    """The archive decompresses to more bytes than the configured bound."""


def open_binary(path: str, timeout: float = 60.0, s3: S3Settings | None = None) -> BinaryIO:
    """Open a local path, file://, http(s):// or s3:// (s3a://) URL for streaming reads;
    `s3`: the S3 endpoint and region to use (lib.object_store)."""
    if path.startswith(("http://", "https://")):
        req = urllib.request.Request(path, headers={"User-Agent": "webinstruct-ingest"})
        return urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 - user-supplied URL is the point
    if path.startswith(("s3://", "s3a://", "gs://")):
        filesystem, inner = object_store.filesystem(path, s3)
        return filesystem.open_input_stream(inner, compression=None)  # the bytes as stored: we undo gzip ourselves
    if path.startswith("file://"):
        path = path[len("file://"):]
    return open(path, "rb")


class _StreamWrapper(io.RawIOBase):
    """Read-only wrapper around `self._raw`; subclasses define read()."""

    _raw: BinaryIO

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


class PeekableStream(_StreamWrapper):
    """Wrap a forward-only stream so its first bytes can be sniffed and then re-read."""

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self._head = b""
        self._pos = 0  # bytes handed out so far

    def peek(self, n: int) -> bytes:
        while len(self._head) < n:
            chunk = self._raw.read(n - len(self._head))
            if not chunk:
                break
            self._head += chunk
        return self._head[:n]

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n is None or n < 0:
                data = self._head + self._raw.read()
                self._head = b""
            else:
                data, self._head = self._head[:n], self._head[n:]
        else:
            data = self._raw.read() if n is None or n < 0 else self._raw.read(n)
        self._pos += len(data)
        return data

    def tell(self) -> int:
        return self._pos


class GzipMemberReader(_StreamWrapper):
    """Streaming multi-member gzip decompression that notices truncation.

    `member_offset(upos)` returns the compressed offset of the member that contains the
    uncompressed position `upos`. Memory stays bounded whatever the compression ratio:
    each inflate step yields at most READ_SIZE bytes (a 64 KiB chunk of a gzip bomb would
    otherwise inflate to 64 MB), reads hand out slices of that one chunk without
    re-copying the rest, and the member table holds a few ints per member.
    `max_output` bounds the whole decompressed stream (ArchiveTooLarge beyond it).
    """

    def __init__(self, raw: BinaryIO, max_output: int | None = None):
        self._raw = raw
        self._decomp = zlib.decompressobj(31)
        self._pending = b""  # compressed bytes not yet inflated (a raw read or zlib's unconsumed tail)
        self._more_out = False  # last step filled READ_SIZE: zlib may hold output without more input
        self._buf = b""  # the current inflated chunk
        self._bufpos = 0  # bytes of _buf already returned
        self._cin = 0  # compressed bytes consumed
        self._uout = 0  # decompressed bytes produced
        self._upos = 0  # decompressed bytes returned
        self._member_u: list[int] = [0]
        self._member_c: list[int] = [0]
        self._in_member = False
        self._eof = False
        self._max_output = max_output

    def tell(self) -> int:
        return self._upos

    def member_offset(self, upos: int) -> int:
        i = bisect.bisect_right(self._member_u, upos) - 1
        return self._member_c[max(i, 0)]

    @property
    def members(self) -> int:
        return len(self._member_u)

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            return self._read_all()
        if self._bufpos >= len(self._buf):
            self._fill()
        start = self._bufpos
        end = min(start + n, len(self._buf))
        data = self._buf if start == 0 and end == len(self._buf) else self._buf[start:end]
        self._bufpos = end
        self._upos += len(data)
        return data

    def _read_all(self) -> bytes:
        parts = []
        while chunk := self.read(READ_SIZE):
            parts.append(chunk)
        return b"".join(parts)

    def _fill(self) -> None:
        """Replace the exhausted buffer with the next inflated chunk (empty at the end)."""
        self._buf, self._bufpos = b"", 0
        while not self._buf and not self._eof:
            if not self._pending and not self._more_out:
                self._pending = self._raw.read(READ_SIZE)
                if not self._pending:
                    self._end_of_input()
                    return
            self._inflate_step()

    def _end_of_input(self) -> None:
        if self._in_member:
            raise TruncatedArchive(
                f"gzip stream ends inside a member (member {len(self._member_u)} "
                f"starting at byte {self._member_c[-1]}): file is truncated"
            )
        self._eof = True

    def _inflate_step(self) -> None:
        fed = self._pending
        try:
            out = self._decomp.decompress(fed, READ_SIZE)
        except zlib.error as exc:
            raise CorruptArchive(
                f"gzip data error in member starting at byte {self._member_c[-1]}: {exc}"
            ) from exc
        self._buf = out
        self._uout += len(out)
        if self._max_output is not None and self._uout > self._max_output:
            raise ArchiveTooLarge(f"decompressed archive exceeds {self._max_output} bytes")
        self._in_member = True
        if self._decomp.eof:
            rest = self._decomp.unused_data
            self._cin += len(fed) - len(rest)
            self._pending = rest
            self._more_out = self._in_member = False
            self._start_next_member()
        else:
            tail = self._decomp.unconsumed_tail
            self._cin += len(fed) - len(tail)
            self._pending = tail
            self._more_out = len(out) >= READ_SIZE

    def _start_next_member(self) -> None:
        """After a member ends: start the next one, accept zero padding, reject garbage."""
        while len(self._pending) < 2:
            chunk = self._raw.read(READ_SIZE)
            if not chunk:
                break
            self._pending += chunk
        if not self._pending:
            return
        if self._pending.startswith(GZIP_MAGIC):
            self._member_u.append(self._uout)
            self._member_c.append(self._cin)
            self._decomp = zlib.decompressobj(31)
            return
        while self._pending and self._pending.strip(b"\x00") == b"":
            self._pending = self._raw.read(READ_SIZE)
        if self._pending:
            raise CorruptArchive(f"data after gzip member ending at byte {self._cin} is not gzip")


class GzipVerifyingStream(_StreamWrapper):
    """Pass compressed bytes through unchanged while checking that every member completes.

    For warcio, which decompresses member by member itself (and so resynchronises at
    member boundaries after a record with a wrong declared length) but says nothing when
    the last member is cut short. The check inflates in bounded steps and discards the
    output; its count enforces `max_output` on what warcio will decompress.
    """

    def __init__(self, raw: BinaryIO, max_output: int | None = None):
        self._raw = raw
        self._decomp = zlib.decompressobj(31)
        self._in_member = False
        self._pos = 0
        self._uout = 0
        self._max_output = max_output

    def tell(self) -> int:
        return self._pos

    def _check(self, data: bytes) -> None:
        while data:
            try:
                out = self._decomp.decompress(data, 1 << 20)  # output discarded, bounded
            except zlib.error as exc:
                raise CorruptArchive(f"gzip data error before byte {self._pos}: {exc}") from exc
            self._uout += len(out)
            if self._max_output is not None and self._uout > self._max_output:
                raise ArchiveTooLarge(f"decompressed archive exceeds {self._max_output} bytes")
            if self._decomp.eof:
                data = self._decomp.unused_data
                self._in_member = False
                self._decomp = zlib.decompressobj(31)
                if data.strip(b"\x00") == b"":
                    return
            else:
                self._in_member = True
                data = self._decomp.unconsumed_tail

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read() if n is None or n < 0 else self._raw.read(n)
        if data:
            self._check(data)
            self._pos += len(data)
        elif self._in_member:
            raise TruncatedArchive(f"gzip stream ends inside a member at byte {self._pos}: file is truncated")
        return data


def compression_of(head: bytes) -> str:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(LZ4_MAGIC):
        return "lz4"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"
