import pytest

from webinstruct.jobs.cli import main
from webinstruct.jobs.core.config import ConfigError, load_config


@pytest.mark.parametrize(
    "override, message",
    [
        ("ingest.min_word=3", "unknown key ingest.min_word; allowed in [ingest]: reader, extractor"),
        ("ingest.min_words=lots", "ingest.min_words must be int, got str 'lots'"),
        ("ingest.reader=arcreader", "ingest.reader must be one of fastwarc, warcio"),
        ("lake.engine=iceberg", "lake.engine must be one of auto, delta-spark, delta-rs"),
        ("ingest.languages=en", "ingest.languages must be list"),
        ("ingest.main_content=1", "ingest.main_content must be bool"),
        ("warehouse.root=x", "unknown section [warehouse]; allowed: spark, lake, ingest"),
        ("min_words=3", "the key must be section.key"),
        ('ingest.retry_statuses=["ok"]', "ingest.retry_statuses may hold partial, failed"),
        ("ingest.lid_model=/nonexistent/lid.176.bin", "ingest.lid_model: no such file"),
        ("ingest.languages=[1]", "ingest.languages and ingest.exclude must be lists of strings"),
        # every size, count and time has a lower bound (a negative size became read(-1))
        ("ingest.max_record_bytes=-2", "ingest.max_record_bytes must be at least 1024; got -2"),
        ("ingest.max_html_bytes=0", "ingest.max_html_bytes must be at least 1024"),
        ("ingest.max_chars=0", "ingest.max_chars must be at least 1"),
        ("ingest.min_words=-1", "ingest.min_words must be at least 0"),
        ("ingest.batch_rows=0", "ingest.batch_rows must be at least 1"),
        ("llm.backoff_s=-1", "llm.backoff_s must be at least 0.0"),
        ("llm.backoff_s=1000", "llm.backoff_s must be at most 300"),
        ("lake.lease_ttl_s=1", "lake.lease_ttl_s must be at least 10.0"),
        ("dedup.batch_bytes=10", "dedup.batch_bytes must be at least 1048576"),
        ("extract.max_answer_chars=0", "extract.max_answer_chars must be at least 1"),
        ("spark.remote=http://x", "spark.remote must be a Spark Connect URL, sc://host:port"),
    ],
)
def test_bad_overrides_name_the_key_and_what_is_allowed(override, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(overrides=[override])


def test_packaged_configs_load_by_name():
    assert load_config("databricks").lake.engine == "delta-spark" and load_config("emr").llm.gpu
    assert load_config().extract.max_tokens == 512  # the packaged local.toml, not the built-in default
    with pytest.raises(ConfigError, match="or name a packaged one: local, databricks, emr"):
        load_config("nope")


def test_bad_file_names_the_key(tmp_path):
    conf = tmp_path / "bad.toml"
    conf.write_text('[ingest]\nextractor = "readability"\n')
    with pytest.raises(ConfigError, match="ingest.extractor must be one of resiliparse, trafilatura"):
        load_config(str(conf))
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(str(tmp_path / "missing.toml"))


def test_overrides_are_typed_and_lake_option_wins(tmp_path):
    cfg = load_config(lake=str(tmp_path), overrides=['ingest.languages=["en", "de"]', "ingest.lang_threshold=1", "spark.conf={ 'spark.x' = 'y' }"])
    assert cfg.ingest.languages == ["en", "de"] and cfg.ingest.lang_threshold == 1.0
    assert cfg.lake.root == str(tmp_path) and cfg.spark.conf == {"spark.x": "y"}


def test_shipped_configs_load():
    for name in ("local", "databricks", "emr"):
        cfg = load_config(f"conf/{name}.toml")
        assert cfg.lake.root
    assert load_config("conf/emr.toml").lake.root.startswith("s3://")


def test_cli_reports_config_errors_before_spark(capsys):

    assert main(["--set", "ingest.reader=nope", "ingest", "x.warc.gz"]) == 2
    assert "ingest.reader must be one of fastwarc, warcio" in capsys.readouterr().err


@pytest.mark.parametrize(
    "override, message",
    [
        ("decontam.judge_rule=most", "decontam.judge_rule must be one of either, both"),
        ("decontam.judge_threshold=0.99", "decontam.judge_threshold must be in [-1, 1] and at most decontam.flag_threshold"),
        ("decontam.min_content=11", "decontam.min_content (11) cannot exceed decontam.ngram (10)"),
        ("decontam.pair_fields=['title']", "decontam.pair_fields may hold question, answer, orig_question, orig_answer"),
        ("decontam.page_input=documents_clean", "decontam.page_input cannot be documents_clean"),
        ('decontam.benchmarks=[{builtin="gsm9k", dir="x"}]', "decontam.benchmarks[0].builtin: unknown benchmark(s) gsm9k"),
        ("export.format=csv", "export.format must be one of parquet, jsonl"),
        ("export.shard_rows=0", "export.shard_rows must be at least 1"),
        ("label.medium=0.9", "label.medium and label.easy must satisfy 0 < medium <= easy <= 1"),
        ("label.easy=1.5", "label.medium and label.easy must satisfy 0 < medium <= easy <= 1"),
        ("label.subject=1", "label.subject must be bool"),
    ],
)
def test_bad_decontam_and_export_settings_name_the_key(override, message):
    with pytest.raises(ConfigError) as exc:
        load_config(overrides=[override])
    assert message in str(exc.value)
    assert load_config(overrides=["decontam.flag_threshold=2.0"]).decontam.flag_threshold == 2.0  # above 1: judge everything
