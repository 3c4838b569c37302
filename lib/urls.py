"""Host and registered domain (public suffix list, bundled offline) from a URL."""

from __future__ import annotations

import functools
from urllib.parse import urlsplit


@functools.lru_cache(maxsize=1)
def _psl():
    from publicsuffixlist import PublicSuffixList

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
