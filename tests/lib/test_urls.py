import random

import pytest

from webinstruct.lib.urls import has_secrets, safe_location, secret_parts

STRIPPED = [
    ("https://user:pass@data.example.org:8443/crawl/a.warc.gz", "https://data.example.org:8443/crawl/a.warc.gz"),
    (
        "https://bucket.s3.amazonaws.com/seg/a.warc.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20240101"
        "&X-Amz-Signature=deadbeef&X-Amz-Expires=3600",
        "https://bucket.s3.amazonaws.com/seg/a.warc.gz",
    ),
    ("https://acct.blob.core.windows.net/c/a.warc.gz?sv=2022-11-02&sig=abc%3D", "https://acct.blob.core.windows.net/c/a.warc.gz"),
    ("http://host/a.warc.gz?token=t0k#frag", "http://host/a.warc.gz"),
    ("https://host/a.warc.gz#access_token=t0k", "https://host/a.warc.gz"),
    ("https://user:p%40ss@host/x", "https://host/x"),
    ("https://user:p@ss@host/x", "https://host/x"),  # unencoded @ in the password: the last @ ends userinfo
    ("http://user@host", "http://host"),
    ("http://host?q=1", "http://host"),
    ("http://host#a@b", "http://host"),
    ("https://u:p@[::1]:8080/p?q", "https://[::1]:8080/p"),
    ("s3://AKIAKEY:secret@commoncrawl/crawl-data/a.warc.gz?versionId=3", "s3://commoncrawl/crawl-data/a.warc.gz"),
    ("s3a://bucket/seg/a.warc.gz?region=us-east-1", "s3a://bucket/seg/a.warc.gz"),
    ("  https://u:p@host/x?sig=1  ", "https://host/x"),
]

UNCHANGED = [
    "s3://commoncrawl/crawl-data/CC-MAIN-2024-22/segments/1/warc/a.warc.gz",
    "gs://bucket/key@2x.warc.gz",  # @ in an object key is not userinfo
    "https://data.commoncrawl.org/crawl-data/a.warc.gz",
    "/data/crawl/a.warc.gz",
    "relative/dir/a?b#c.warc.gz",  # ? and # are filename characters in local paths
    "file:///data/a?b#c.warc.gz",
    "user@host:/data/a.warc.gz",
    "C:\\crawl\\a.warc.gz",
    " /data/with spaces.warc.gz ",
]

ODD = ["", "://", "http://", "http://[::1", "http://[::1]:notaport/x?y", "\x00", "http://\n@x/?#", "h\u0000ttp://a", "HTTPS://U:P@H/X?Y"]


@pytest.mark.parametrize(("uri", "expected"), STRIPPED)
def test_credentials_query_and_fragment_are_removed(uri, expected):
    assert safe_location(uri) == expected
    assert safe_location(expected) == expected


@pytest.mark.parametrize("uri", UNCHANGED)
def test_local_paths_and_clean_urls_are_untouched(uri):
    assert safe_location(uri) == uri
    assert not has_secrets(uri)


@pytest.mark.parametrize("uri", [u for u, _ in STRIPPED] + UNCHANGED + ODD + [None])
def test_idempotent_and_never_raises(uri):
    once = safe_location(uri)
    assert isinstance(once, str) and safe_location(once) == once
    assert isinstance(has_secrets(uri), bool)


def test_idempotent_on_random_url_like_strings():
    rng = random.Random(0)
    alphabet = "ab:/@?#%[]. \t\n\x00s3h"
    for _ in range(20000):
        uri = rng.choice(["", "http://", "s3://", "file://", "x"]) + "".join(rng.choices(alphabet, k=rng.randint(0, 20)))
        once = safe_location(uri)
        assert safe_location(once) == once, uri
        if once != uri:  # rewritten as a URL: nothing after the path, no userinfo
            assert "?" not in once and "#" not in once, uri
            assert "@" not in once.split("://", 1)[1].split("/", 1)[0], uri


def test_secret_parts_name_what_was_found_without_values():
    uri = "https://me:hunter2@host/a.warc.gz?X-Amz-Credential=AKIA&X-Amz-Signature=beef&partNumber=1"
    assert secret_parts(uri) == ["userinfo", "parameter 'X-Amz-Credential'", "parameter 'X-Amz-Signature'"]
    assert "hunter2" not in " ".join(secret_parts(uri))
    assert has_secrets("https://host/a?sig=1") and has_secrets("https://host/a?token=1") and has_secrets("s3://k:s@b/x")
    assert not has_secrets("https://host/a.warc.gz?partNumber=2") and not has_secrets("/etc/passwd?token=1")
