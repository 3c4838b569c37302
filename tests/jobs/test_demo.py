"""The demo's own sample archive goes through ingest with each drop path exercised."""

from jobs import demo
from jobs.lake import open_lake


def test_demo_sample_is_ingested_with_expected_drops(spark, make_config, tmp_path, capsys):
    cfg = make_config()
    lake = open_lake(spark, cfg)
    assert demo.run(spark, cfg, lake, str(tmp_path / "work")) == 0
    out = capsys.readouterr().out
    docs = {r["url"]: r for r in lake.read("documents").collect()}
    assert len(docs) == 6
    physics = docs["http://physics.homework.example.co.uk/mechanics/braking-distance"]
    assert physics["charset"] == "cp1252" and "4 m/s²" in physics["text"]  # windows-1252 via <meta>
    assert not any("mathe.example.de" in u for u in docs)  # German page: language filter
    assert "dropped: language" in out and "dropped: too_short" in out and "dropped: revisit" in out
    assert "calculus-notes.example.edu" in out  # the demo query ran
