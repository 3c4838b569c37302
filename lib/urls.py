"""URL helpers: host and registered domain (public suffix list, bundled offline), and the
credential-free form of an input location that is safe to store for lineage."""

from __future__ import annotations

import functools
import re
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from publicsuffixlist import PublicSuffixList

# RFC 3986: scheme "://" authority (up to the first / ? #), path (up to ? or #), the rest.
_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)([^?#]*)(.*)", re.DOTALL)
# Query or fragment parameter names that carry credentials: presigned S3/GCS/Azure/CloudFront
# URLs (X-Amz-Signature, X-Goog-Credential, sig, Signature, Policy, Key-Pair-Id), tokens,
# API keys and passwords. Broad on purpose: it only decides whether to warn.
_SECRET_PARAM = re.compile(r"sig|token|credential|secret|passw|pwd|key|auth|session|policy|x-amz-|x-goog-", re.IGNORECASE)


class _UrlParts(NamedTuple):
    scheme: str
    userinfo: str | None
    hostport: str
    path: str
    rest: str  # "?query#fragment", either part optional


@functools.lru_cache(maxsize=1)
def _psl():
    return PublicSuffixList()


def host_of(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    return host.rstrip(".").lower() if host else None


def registered_domain(host: str | None) -> str | None:
    """eTLD+1 (`bbc.co.uk` for `news.bbc.co.uk`); the host itself for IPs and bare suffixes."""
    if not host:
        return None
    if host.replace(".", "").isdigit() or ":" in host:
        return host
    return _psl().privatesuffix(host) or host


def _url_parts(uri: str) -> _UrlParts | None:
    """Split `scheme://...` by plain string rules (never raises, unlike urlsplit on bad IPv6
    hosts); None for local paths, including file:// where `?` and `#` are filename characters."""
    match = _URL.fullmatch(uri)
    if match is None or match.group(1).lower() == "file":
        return None
    scheme, authority, path, rest = match.groups()
    userinfo, at, hostport = authority.rpartition("@")
    return _UrlParts(scheme, userinfo if at else None, hostport, path, rest)


def _as_text(uri: object) -> str:
    return "" if uri is None else uri if isinstance(uri, str) else str(uri)


def safe_location(uri: str) -> str:
    """The form of an input location to store (runs.args, warc_files.path, documents.warc_path).

    URLs lose userinfo, query string and fragment (scheme, host, port and path stay; for s3://
    and gs:// that is bucket and key), so presigned signatures, tokens and passwords never reach
    a table. Local paths and file:// URLs come back unchanged. Idempotent; never raises.
    """
    uri = _as_text(uri)
    parts = _url_parts(uri.strip())
    if parts is None:
        return uri
    return f"{parts.scheme}://{parts.hostport}{parts.path}".rstrip()  # stripped, as parsed: idempotent


def secret_parts(uri: str) -> list[str]:
    """What in `uri` looks like a credential ("userinfo", "parameter 'X-Amz-Signature'"), values
    left out, so a warning can say why the stored location differs from the one read."""
    parts = _url_parts(_as_text(uri).strip())
    if parts is None:
        return []
    found = ["userinfo"] if parts.userinfo is not None else []
    query, _, fragment = parts.rest.partition("#")
    for pair in re.split(r"[&;]", query.removeprefix("?") + "&" + fragment):
        name = unquote(pair.partition("=")[0]).strip()
        if name and _SECRET_PARAM.search(name):
            found.append(f"parameter {name[:40]!r}")
    return found


def has_secrets(uri: str) -> bool:
    """True when `uri` carries credentials (userinfo, signature or token parameters): warn the user."""
    return bool(secret_parts(uri))
