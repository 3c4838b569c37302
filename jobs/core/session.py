"""The Spark session: the cluster's when there is one (spark-submit, Databricks), a Spark
Connect session with `--remote` / SPARK_REMOTE, else a local one set up for us.

Spark Connect sessions (Databricks serverless and shared clusters) have no SparkContext
and no JVM gateway. What the stages need from either kind goes through the helpers here
(parallelism, broadcast, shipping a file or the package), so no stage asks which it has.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import sys
import tempfile
import zipfile
import zipimport
from pathlib import Path

from pyspark.sql import SparkSession

from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.storage import is_local
from webinstruct.lib.object_store import S3Settings

log = logging.getLogger("webinstruct.session")
PACKAGE_PARTS = ("jobs", "lib", "udfs", "prompts", "conf")
SHIPPED_SUFFIXES = (".py", ".txt", ".json", ".toml", ".html", ".md")


def runs_on_one_machine(spark) -> bool:
    """Whether the driver and every executor share this machine's file system: a local
    master. A Connect server or a cluster master may put executors elsewhere."""
    if is_connect(spark):
        return False
    return spark.sparkContext.master.startswith("local")


def lake_root_problem(root: str, one_machine: bool) -> tuple[str, str]:
    """(error, warning) for a lake root on a session whose executors may be elsewhere.
    A relative root is resolved by Spark's executors against their working folder and by
    delta-rs against the driver's: the commit would name files nobody wrote. An absolute
    local folder works only on a mount every node shares at the same path."""
    if one_machine or not is_local(root) or root.startswith("dbfs:/"):
        return "", ""
    path = root.removeprefix("file://")
    if not os.path.isabs(path):
        return (f"lake.root {root!r} is a relative path, but executors may run on other machines (or another working "
                "folder): Spark and delta-rs would resolve it differently. Give an absolute location on shared storage "
                "(s3://..., abfss://..., dbfs:/..., hdfs://..., or a folder mounted at the same path on every node)"), ""
    return "", (f"note: lake {root} is a local folder on a cluster session: every node must mount it at the same path "
                "(s3://, abfss://, dbfs:/ or hdfs:// otherwise)")


def remote_url(cfg: Config) -> str:
    return cfg.spark.remote or os.environ.get("SPARK_REMOTE", "")


def is_connect(spark) -> bool:
    """Whether `spark` is a Spark Connect session (no SparkContext, no JVM)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def get_spark(cfg: Config):
    remote = remote_url(cfg)
    active = SparkSession.getActiveSession()
    if active is not None and (not remote or is_connect(active)):
        apply_s3(active, cfg)
        return active
    if remote:
        spark = _runtime_conf(SparkSession.builder.remote(remote).appName(cfg.spark.app_name), cfg).getOrCreate()
        if cfg.spark.ship_code:
            ship_package(spark)
        return spark
    # Executors must run the same interpreter (and venv) as the driver.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(cfg.spark.app_name)
    # Under spark-submit the launcher already chose master and resources.
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ
    if not submitted:
        builder = (
            builder.master(cfg.spark.master)
            .config("spark.driver.memory", cfg.spark.driver_memory)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.warehouse.dir", os.path.join(os.getcwd(), "spark-warehouse"))
        )
    spark = _runtime_conf(builder, cfg).getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    apply_s3(spark, cfg)
    return spark


def apply_s3(spark, cfg: Config) -> dict:
    """The lake's S3 endpoint and region for Spark's own S3A connector too (fs.s3a.*), so one
    setting (lake.storage_options) reaches delta-rs, pyarrow and Spark. A Connect server
    keeps its own settings. Returns what was set."""
    if is_connect(spark):
        return {}
    conf = S3Settings.from_options(cfg.lake.storage_options).hadoop_conf()
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    for key, value in conf.items():
        hadoop.set(key, value)
    return conf


ARROW_BATCH_BYTES = 64 << 20


def _runtime_conf(builder, cfg: Config):
    """Settings a Connect session may change too (SQL runtime confs)."""
    builder = (
        builder.config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(cfg.spark.shuffle_partitions))
        # Arrow batches into Python workers are cut by bytes too, not only by rows (10,000):
        # 10,000 pages of up to ingest.max_chars each would be gigabytes in one worker
        .config("spark.sql.execution.arrow.maxBytesPerBatch", str(ARROW_BATCH_BYTES))
    )
    for key, value in cfg.spark.conf.items():
        builder = builder.config(key, str(value))
    return builder


def parallelism(spark) -> int:
    """Task slots to spread work over: the cluster's default parallelism, or on Spark
    Connect (which does not tell) spark.default.parallelism, else the shuffle partitions.
    Under dynamic allocation the executors a job will get have not registered yet when the
    driver asks (defaultParallelism counts only those registered, often none: 2), so the
    configured ceiling counts (`task_slots`)."""
    if not is_connect(spark):
        conf = dict(spark.sparkContext.getConf().getAll())
        return task_slots(spark.sparkContext.defaultParallelism, conf)
    for key in ("spark.default.parallelism", "spark.sql.shuffle.partitions"):
        value = spark.conf.get(key, None)
        if value and str(value).isdigit():
            return max(1, int(value))
    return 1


def task_slots(default_parallelism: int, conf: dict) -> int:
    """Slots from the registered executors, or under dynamic allocation from what it may
    grow to: maxExecutors x cores per executor when bounded, else the shuffle partitions
    (spark.default.parallelism wins when set)."""
    slots = max(1, int(default_parallelism))
    if str(conf.get("spark.dynamicAllocation.enabled", "false")).lower() != "true" or "spark.default.parallelism" in conf:
        return slots
    cores = _int(conf.get("spark.executor.cores"), 1)
    most = _int(conf.get("spark.dynamicAllocation.maxExecutors"), 0)
    planned = most * cores if most else _int(conf.get("spark.sql.shuffle.partitions"), 200)
    return max(slots, min(planned, MAX_PLANNED_SLOTS))


MAX_PLANNED_SLOTS = 4096  # an unbounded maxExecutors must not become millions of tiny partitions


def _int(value, default: int) -> int:
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() else default


def ship_file(spark, uri: str, fetch) -> str:
    """Make a file (a model in the lake) available to every executor through SparkFiles;
    returns the name to look it up by. Classic: SparkContext.addFile reads `uri` itself.
    Connect: `fetch(local_path)` copies it here and addArtifacts uploads it."""
    name = uri.rstrip("/").rsplit("/", 1)[-1]
    if is_connect(spark):
        local = Path(tempfile.mkdtemp(prefix="webinstruct-ship-")) / name
        if fetch(str(local)):
            _add_artifact(spark, str(local), file=True)
        return name
    try:
        spark.sparkContext.addFile(uri)
    except Exception as exc:  # noqa: BLE001 - py4j wraps the JVM's error
        if "has been added already" not in str(exc):  # content-addressed name: same file
            raise
    return name


def _add_artifact(spark, path: str, **kind) -> None:
    try:
        spark.addArtifacts(path, **kind)
    except Exception as exc:  # noqa: BLE001 - the gRPC error of a name this session already has
        if "already exists" not in str(exc):
            raise


def package_zip(folder: Path) -> Path:
    """The webinstruct package this process runs, as a zip for --py-files or addArtifacts:
    from a wheel or an editable install alike, with folder entries (zipimport finds the
    namespace package `webinstruct` only through them). Running from such a zip already:
    that zip."""
    roots = {}
    for part in PACKAGE_PARTS:
        module = importlib.import_module(f"webinstruct.{part}")
        loader = module.__spec__.loader
        if isinstance(loader, zipimport.zipimporter):
            return Path(loader.archive)
        roots[part] = Path(next(iter(module.__path__)))
    files = sorted((part, path) for part, root in roots.items() for path in root.rglob("*")
                   if path.is_file() and path.suffix in SHIPPED_SUFFIXES and "__pycache__" not in path.parts)
    digest = hashlib.sha256()
    for part, path in files:
        digest.update(f"{part}/{path.relative_to(roots[part])}".encode() + b"\0" + path.read_bytes())
    target = folder / f"webinstruct-{digest.hexdigest()[:12]}.zip"
    if target.exists():
        return target
    folders = {"webinstruct/"}
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for part, path in files:
            rel = f"webinstruct/{part}/{path.relative_to(roots[part]).as_posix()}"
            for i in range(1, rel.count("/") + 1):
                folders.add("/".join(rel.split("/")[:i]) + "/")
            z.write(path, rel)
        for name in sorted(folders):
            z.writestr(name, "")
    return target


def ship_package(spark) -> Path:
    """Send the package to a Connect server's Python workers (they need not have it)."""
    path = package_zip(Path(tempfile.gettempdir()))
    _add_artifact(spark, str(path), pyfile=True)
    log.info("shipped %s to the Spark Connect session", path)
    return path
