import gzip

from webinstruct.lib.ingest.inputs import expand_inputs

from tests.conftest import shared


def test_common_crawl_listing_with_seeded_sample(tmp_path):
    entries = [f"crawl-data/CC-MAIN-2024-22/segments/{i}/warc/f{i:03d}.warc.gz" for i in range(50)]
    listing = tmp_path / "warc.paths.gz"
    listing.write_bytes(gzip.compress("\n".join(entries).encode()))
    everything = expand_inputs([str(listing)], base_url="s3://commoncrawl/")
    assert everything[0] == "s3://commoncrawl/crawl-data/CC-MAIN-2024-22/segments/0/warc/f000.warc.gz"
    assert len(everything) == 50
    a = expand_inputs([str(listing)], sample=5, seed=7, base_url="s3://commoncrawl/")
    b = expand_inputs([str(listing)], sample=5, seed=7, base_url="s3://commoncrawl/")
    c = expand_inputs([str(listing)], sample=5, seed=8, base_url="s3://commoncrawl/")
    assert a == b and len(a) == 5 and set(a) <= set(everything) and a != c


def test_folders_globs_and_urls():
    real = shared("warc", "real")
    folder = expand_inputs([str(real)])
    assert len(folder) == len(list(real.iterdir()))
    globbed = expand_inputs([str(real / "*.warc.gz"), "https://example.org/a.warc.gz", str(real / "*.warc.gz")])
    assert globbed[-1] == "https://example.org/a.warc.gz"  # sorted, duplicates removed
    assert all(p.endswith(".warc.gz") for p in globbed) and len(globbed) == len(set(globbed))
