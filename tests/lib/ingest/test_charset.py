import re

from tests.conftest import shared
from webinstruct.lib.ingest.charset import decode_html, python_codec
from webinstruct.lib.ingest.http_payload import decode_body, parse_http_response
from webinstruct.lib.ingest.warc_records import ArchiveInfo, iter_records

CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


def test_labels_map_like_browsers():
    assert python_codec("ISO-8859-1") == "cp1252"
    assert python_codec("gb2312") == "gb18030"
    assert python_codec("Shift_JIS") == "cp932"
    assert python_codec("EUC-KR") == "cp949"
    assert python_codec("no-such-charset") is None


def test_http_header_then_meta_then_detection():
    text = "Schöne Grüße aus Köln"
    page = f'<html><head><meta charset="iso-8859-1"></head><body>{text}</body></html>'
    latin = page.encode("cp1252")
    assert decode_html(latin, "windows-1252")[1:] == ("cp1252", "http")
    assert decode_html(latin, None)[1:] == ("cp1252", "meta")
    decoded, codec, source = decode_html(page.replace('<meta charset="iso-8859-1">', "").encode("utf-8"), None)
    assert (codec, source) == ("utf-8", "detected") and text in decoded


def test_wrong_declared_charset_is_not_trusted():
    page = "<html><body>日本語のページです。数学の問題と解答。</body></html>".encode("utf-8")
    # Declared as Shift_JIS, but the bytes are UTF-8: strict decoding rejects the label.
    decoded, codec, _ = decode_html(page, "shift_jis")
    assert codec == "utf-8" and "数学の問題" in decoded


def test_real_cjk_pages_decode_to_readable_text():
    """Every non-UTF-8 CJK page of the real SERP archive decodes without replacement
    characters and yields CJK text."""
    path = shared("warc", "real", "webis_archive-query-log_serps_990.warc.gz")
    seen = {}
    for rec in iter_records(str(path), ArchiveInfo()):
        if rec.rec_type != "response":
            continue
        resp = parse_http_response(rec.block)
        body = decode_body(resp, 5 << 20)
        text, codec, _ = decode_html(body, resp.charset)
        if codec in ("gb18030", "cp949", "cp932", "euc_jp", "big5hkscs"):
            seen.setdefault(codec, []).append(text)
    assert {"gb18030", "cp949"} <= set(seen), seen.keys()
    for codec, texts in seen.items():
        for text in texts:
            assert "\ufffd" not in text, codec
        assert sum(bool(CJK.search(t)) for t in texts) == len(texts), codec
