"""Files outside the Delta tables (models, scratch, exports), reached from the driver with
pyarrow's filesystems, never through the JVM: the same code works in a classic session, a
Spark Connect session and on a cluster.

Locations: local folders (and file://), dbfs:/ through the /dbfs mount Databricks gives
the driver, and what pyarrow reaches itself (s3:// and s3a://, gs://, abfs://, hdfs://)
with the environment's credentials; S3 with the endpoint and region of the lake's
`storage_options` (`configure`, called when the lake is opened; lib/object_store.py).
"""

from __future__ import annotations

import os
import posixpath
import uuid

from pyarrow import fs as pafs

from webinstruct.lib import object_store
from webinstruct.lib.object_store import S3Settings

_S3 = {"settings": S3Settings()}


def configure(storage_options: dict | None) -> S3Settings:
    """Use these S3 settings (lake.storage_options) for s3:// and s3a:// locations."""
    _S3["settings"] = S3Settings.from_options(storage_options)
    return _S3["settings"]


def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """(filesystem, path inside it) for a folder or file location."""
    if uri.startswith("dbfs:/"):
        return pafs.LocalFileSystem(), "/dbfs/" + uri[len("dbfs:/"):].lstrip("/")
    if uri.startswith("file://"):
        return pafs.LocalFileSystem(), uri[len("file://"):]
    if "://" not in uri:
        return pafs.LocalFileSystem(), os.path.abspath(uri)
    return object_store.filesystem(uri, _S3["settings"])


def is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith(("file://", "dbfs:/"))


def kind(filesystem_: pafs.FileSystem, path: str) -> pafs.FileType:
    return filesystem_.get_file_info(path).type


def exists(uri: str) -> bool:
    filesystem_, path = filesystem(uri)
    return kind(filesystem_, path) != pafs.FileType.NotFound


def read_text(uri: str, limit: int = 1 << 20) -> str | None:
    """A small text file (at most `limit` bytes are read), or None when it is absent."""
    filesystem_, path = filesystem(uri)
    if kind(filesystem_, path) != pafs.FileType.File:
        return None
    with filesystem_.open_input_stream(path) as stream:
        return stream.read(limit).decode("utf-8", errors="replace")


def write_text(uri: str, text: str) -> None:
    """Write through a unique temporary name and move it into place."""
    filesystem_, path = filesystem(uri)
    filesystem_.create_dir(posixpath.dirname(path), recursive=True)
    tmp = f"{path}.{uuid.uuid4().hex}.tmp"
    with filesystem_.open_output_stream(tmp) as stream:
        stream.write(text.encode("utf-8"))
    filesystem_.move(tmp, path)


def listing(uri: str) -> list[pafs.FileInfo]:
    """Entries directly in a folder ([] when it is absent)."""
    filesystem_, path = filesystem(uri)
    if kind(filesystem_, path) != pafs.FileType.Directory:
        return []
    return filesystem_.get_file_info(pafs.FileSelector(path))


def remove(uri: str) -> None:
    """Delete a file or a folder with everything under it; absent is fine."""
    filesystem_, path = filesystem(uri)
    found = kind(filesystem_, path)
    if found == pafs.FileType.Directory:
        filesystem_.delete_dir(path)
    elif found == pafs.FileType.File:
        filesystem_.delete_file(path)


def remove_if_empty(uri: str) -> None:
    """Remove a local folder only while it is empty (rmdir is atomic: a file another
    process just created keeps it); object stores have no folders to remove."""
    filesystem_, path = filesystem(uri)
    if isinstance(filesystem_, pafs.LocalFileSystem):
        try:
            os.rmdir(path)
        except OSError:
            pass


def move(source: str, target: str) -> None:
    filesystem_, src = filesystem(source)
    _, dst = filesystem(target)
    filesystem_.create_dir(posixpath.dirname(dst), recursive=True)
    filesystem_.move(src, dst)


def inside(child: str, parent: str) -> bool:
    """Whether location `child` is `parent` or lies under it (same scheme, normalised)."""
    a, b = _normal(child), _normal(parent)
    return a == b or a.startswith(b.rstrip("/") + "/")


def _normal(uri: str) -> str:
    if uri.startswith("dbfs:/"):
        uri = "/dbfs/" + uri[len("dbfs:/"):].lstrip("/")
    if uri.startswith("file://"):
        uri = uri[len("file://"):]
    if "://" not in uri:
        return os.path.realpath(uri)
    scheme, rest = object_store.normalize(uri).split("://", 1)
    return f"{scheme}://{posixpath.normpath(rest)}"
